// Small programs pinning down scalar semantics and error reports of the interpreter. Not a lit
// test. Each scalar result is stored as element k of %out through a 1-element tile.

func.func @int_semantics(%out: !blk.tensor<[N], i64>) {
  %c1 = arith.constant 1 : index
  blk.kernel @ints grid(%c1) {
  ^bb0(%pid: index):
    %i0 = arith.constant 0 : index
    %i1 = arith.constant 1 : index
    %i2 = arith.constant 2 : index
    %i3 = arith.constant 3 : index
    %i4 = arith.constant 4 : index
    %i5 = arith.constant 5 : index
    %i6 = arith.constant 6 : index
    %i7 = arith.constant 7 : index
    %i8 = arith.constant 8 : index
    %i9 = arith.constant 9 : index
    %i10 = arith.constant 10 : index
    %i11 = arith.constant 11 : index
    %i12 = arith.constant 12 : index
    %i13 = arith.constant 13 : index
    %i14 = arith.constant 14 : index
    %i15 = arith.constant 15 : index
    %max = arith.constant 2147483647 : i32
    %one = arith.constant 1 : i32
    %two = arith.constant 2 : i32
    %five = arith.constant 5 : i32
    %m7 = arith.constant -7 : i32
    %m8 = arith.constant -8 : i32
    %m1 = arith.constant -1 : i32
    %s28 = arith.constant 28 : i32
    %big = arith.constant 65536 : i32
    %t = arith.constant true

    %v0 = arith.addi %max, %one : i32
    %w0 = arith.extsi %v0 : i32 to i64
    %t0 = blk.fill %w0 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t0, %out[%i0] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v1 = arith.floordivsi %m7, %two : i32
    %w1 = arith.extsi %v1 : i32 to i64
    %t1 = blk.fill %w1 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t1, %out[%i1] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v2 = arith.ceildivsi %m7, %two : i32
    %w2 = arith.extsi %v2 : i32 to i64
    %t2 = blk.fill %w2 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t2, %out[%i2] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v3 = arith.remsi %m7, %two : i32
    %w3 = arith.extsi %v3 : i32 to i64
    %t3 = blk.fill %w3 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t3, %out[%i3] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v4 = arith.divui %m1, %two : i32
    %w4 = arith.extsi %v4 : i32 to i64
    %t4 = blk.fill %w4 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t4, %out[%i4] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v5 = arith.shrsi %m8, %one : i32
    %w5 = arith.extsi %v5 : i32 to i64
    %t5 = blk.fill %w5 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t5, %out[%i5] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v6 = arith.shrui %m8, %s28 : i32
    %w6 = arith.extsi %v6 : i32 to i64
    %t6 = blk.fill %w6 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t6, %out[%i6] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %w7 = arith.extui %t : i1 to i64
    %t7 = blk.fill %w7 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t7, %out[%i7] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %w8 = arith.extsi %t : i1 to i64
    %t8 = blk.fill %w8 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t8, %out[%i8] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %c300 = arith.constant 300 : i32
    %v9 = arith.trunci %c300 : i32 to i8
    %w9 = arith.extsi %v9 : i8 to i64
    %t9 = blk.fill %w9 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t9, %out[%i9] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %c200 = arith.constant 200 : i32
    %v10 = arith.trunci %c200 : i32 to i8
    %w10 = arith.extsi %v10 : i8 to i64
    %t10 = blk.fill %w10 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t10, %out[%i10] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %c130 = arith.constant 130 : index
    %c64 = arith.constant 64 : index
    %v11 = arith.ceildivui %c130, %c64 : index
    %w11 = arith.index_cast %v11 : index to i64
    %t11 = blk.fill %w11 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t11, %out[%i11] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %f = arith.constant -2.7 : f64
    %w12 = arith.fptosi %f : f64 to i64
    %t12 = blk.fill %w12 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t12, %out[%i12] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v13 = arith.maxui %m1, %five : i32
    %w13 = arith.extsi %v13 : i32 to i64
    %t13 = blk.fill %w13 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t13, %out[%i13] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v14 = arith.cmpi ult, %m1, %five : i32
    %w14 = arith.extui %v14 : i1 to i64
    %t14 = blk.fill %w14 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t14, %out[%i14] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>

    %v15 = arith.muli %big, %big : i32
    %w15 = arith.extsi %v15 : i32 to i64
    %t15 = blk.fill %w15 : i64 -> !blk.tile<1xi64, reg>
    blk.store %t15, %out[%i15] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>
  }
  return
}

func.func @float_semantics(%out: !blk.tensor<[N], f64>) {
  %c1 = arith.constant 1 : index
  blk.kernel @floats grid(%c1) {
  ^bb0(%pid: index):
    %i0 = arith.constant 0 : index
    %i1 = arith.constant 1 : index
    %i2 = arith.constant 2 : index
    %i3 = arith.constant 3 : index
    %i4 = arith.constant 4 : index
    %i5 = arith.constant 5 : index
    %nan = arith.constant 0x7FF8000000000000 : f64
    %onef = arith.constant 1.0 : f64
    %ninf = arith.constant 0xFFF0000000000000 : f64

    %v0 = arith.maximumf %nan, %onef : f64
    %t0 = blk.fill %v0 : f64 -> !blk.tile<1xf64, reg>
    blk.store %t0, %out[%i0] : !blk.tile<1xf64, reg>, !blk.tensor<[N], f64>

    %v1 = arith.maxnumf %nan, %onef : f64
    %t1 = blk.fill %v1 : f64 -> !blk.tile<1xf64, reg>
    blk.store %t1, %out[%i1] : !blk.tile<1xf64, reg>, !blk.tensor<[N], f64>

    // max over an all -inf row is -inf
    %row = blk.fill %ninf : f64 -> !blk.tile<4x8xf64, reg>
    %m = blk.reduce max %row : !blk.tile<4x8xf64, reg> -> !blk.tile<4xf64, reg>
    blk.store %m, %out[%i2] : !blk.tile<4xf64, reg>, !blk.tensor<[N], f64>
    // (elements 2..5 now hold -inf; 3 and 4 are overwritten below)

    // truncf / extf are identities: 1/3 survives a round trip through bf16
    %one32 = arith.constant 1.0 : f32
    %three32 = arith.constant 3.0 : f32
    %third = arith.divf %one32, %three32 : f32
    %tb = arith.truncf %third : f32 to bf16
    %te = arith.extf %tb : bf16 to f64
    %t3 = blk.fill %te : f64 -> !blk.tile<1xf64, reg>
    blk.store %t3, %out[%i3] : !blk.tile<1xf64, reg>, !blk.tensor<[N], f64>

    %half = arith.constant 2.5 : f64
    %re = math.roundeven %half : f64
    %t4 = blk.fill %re : f64 -> !blk.tile<1xf64, reg>
    blk.store %t4, %out[%i4] : !blk.tile<1xf64, reg>, !blk.tensor<[N], f64>
  }
  return
}

func.func @table_lookup(%S: !blk.tensor<[M, N], f32>, %T: !blk.tensor<[R], f32>,
                        %out: !blk.tensor<[M, N], f32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  blk.kernel @lookup grid(%c1) {
  ^bb0(%pid: index):
    %s = blk.load %S[%c0, %c0] : !blk.tensor<[M, N], f32> -> !blk.tile<8x?xf32, reg>
    %ki = blk.iota col %c0 : !blk.tile<8x?xi32, reg>
    %y = blk.map(%s, %ki) : (!blk.tile<8x?xf32, reg>, !blk.tile<8x?xi32, reg>) -> !blk.tile<8x?xf32, reg> {
    ^bb0(%x: f32, %j: i32):
      %idx = arith.index_cast %j : i32 to index
      %t = blk.read %T[%idx] : !blk.tensor<[R], f32> -> f32
      %r = arith.addf %x, %t : f32
      blk.yield %r : f32
    }
    blk.store %y, %out[%c0, %c0] : !blk.tile<8x?xf32, reg>, !blk.tensor<[M, N], f32>
  }
  return
}

func.func @unsupported(%X: !blk.tensor<[N], i32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  blk.kernel @popcount grid(%c1) {
  ^bb0(%pid: index):
    %x = blk.load %X[%c0] : !blk.tensor<[N], i32> -> !blk.tile<8xi32, reg>
    %y = blk.map(%x) : (!blk.tile<8xi32, reg>) -> !blk.tile<8xi32, reg> {
    ^bb0(%v: i32):
      %p = math.ctpop %v : i32
      blk.yield %p : i32
    }
    blk.store %y, %X[%c0] : !blk.tile<8xi32, reg>, !blk.tensor<[N], i32>
  }
  return
}

func.func @divide(%X: !blk.tensor<[N], i64>, %d: index) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c100 = arith.constant 100 : index
  blk.kernel @div grid(%c1) {
  ^bb0(%pid: index):
    %q = arith.divui %c100, %d : index
    %qi = arith.index_cast %q : index to i64
    %t = blk.fill %qi : i64 -> !blk.tile<1xi64, reg>
    blk.store %t, %X[%c0] : !blk.tile<1xi64, reg>, !blk.tensor<[N], i64>
  }
  return
}
