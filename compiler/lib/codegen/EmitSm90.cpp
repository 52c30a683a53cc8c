//===- EmitSm90.cpp - phase 3, sm90 backend: warp-specialized wgmma + TMA ---===//
//
// The kernel FlashAttention-3 (Shah et al. 2024, Sec. 3.1) describes, written from the same fused block
// program as the sm80 kernel:
//
//   warpgroup 0, the producer: setmaxnreg.dec; one thread issues every tile load as TMA copies
//     (cp.async.bulk.tensor, 128B swizzle) into shared memory: the tiles loaded once (Q) on one mbarrier
//     each, the K/V loop's tiles into a ring of kv_stages slots per load with a full and an empty mbarrier
//     per slot. It runs the K/V loop's iteration space itself (the same bounds, the same mask-derived
//     cut and the same per-tile conditions as the consumers), so a tile the tile classification skips
//     is never loaded.
//   warpgroups 1 .. BLOCK_M / 64, the consumers: setmaxnreg.inc; each owns 64 query rows, each of its
//     warps 16 of them. The program's ops run as in the sm80 kernel (element-wise code, reductions,
//     stores: EmitWalker.h), except that a shared tile is waited for on its full barrier, the matmuls
//     are wgmma (S = Q K^T: SS; O += P V: RS, P straight from registers) and the end of an iteration
//     hands each consumed slot back on its empty barrier. No block-wide barrier after the prologue.
//
// With overlap = pingpong (FlashAttention-3, Sec. 3.1) the consumer warpgroups take turns at the tensor
// cores on named barriers 1..C: warpgroup c issues O += P_j V_j and S_{j+1} = Q K_{j+1}^T back to back,
// hands the turn to warpgroup c % C + 1 and only then waits for both, so one warpgroup's softmax runs while
// the next one's products do. P V is not waited for until the next S (its V slot is handed back then).
//
// With overlap = intra (FlashAttention-3, Sec. 3.2) each consumer warpgroup also overlaps its own softmax
// with its P V: iteration j issues S_j = Q K_j^T and then P_{j-1} V_{j-1} (P_{j-1} kept in registers from
// the last iteration), waits for S_j only, and runs the softmax of S_j while the product is in flight. O
// is waited for before the first op that touches it (its rescale by alpha_j, which therefore multiplies
// O + P_{j-1} V_{j-1}: the same recurrence, the P V term one iteration late); the last P V is issued after
// the loop. pingpong_intra does both: the issue of S_j and P_{j-1} V_{j-1} is one turn.
//
// The output tile (the kernel body's store of O, Plan.h StagedStore) goes out through shared memory when its
// buffer fits (FlashAttention-3's epilogue): each consumer warp writes its 16 rows with stmatrix, and one
// thread per warpgroup stores the warpgroup's 64 rows by TMA and moves on; it waits for that store to have
// read the buffer only before the next tile's epilogue writes it (warpgroup/epilogue.cuh). The 4-byte global
// stores straight from the accumulators cost about 3 us per Q tile (B32 H16 S512: 0.145 -> 0.125 ms).
//
// Requirements (CodegenError otherwise, naming the op): Q staged in shared memory (fusion with
// q-in=smem), one K/V loop whose loads are all predictable (indices and conditions functions of its
// induction variable), loads of rank-4 tensors with 16-bit elements into tiles with a multiple of 16
// columns, matmuls of the two attention forms above. A tile of D columns is stored as whole 64-column
// panels (sm90SmemCols(D)): one TMA box per panel, zeros past the tensor's last column, and the wgmma read
// only the first D columns (S = Q K^T: D / 16 k-steps; O += P V: N = Dv).
//
// Clusters (Schedule::cluster = 2; device/cluster.cuh): the kernel carries __cluster_dims__(2, 1, 1) and the
// two blocks of a cluster run neighbouring Q tiles of one (batch, head) (a block past the last Q tile runs it
// again). Every K/V tile is read from L2 once for both: the producer of block r issues the tile's TMA boxes
// r, r + 2, ... with .multicast::cluster into the slot of both blocks, arms its own full barrier with the
// whole tile's bytes, and refills a slot only when the consumer warps of both blocks have arrived on its
// empty barrier. The K/V loop's range and loads must not depend on the Q tile (both blocks visit the same
// tiles). The barriers are initialised before a cluster-wide barrier, and every thread meets the peer
// block's at a cluster barrier before the kernel returns.
//
// Packed sequences (spec "layout": "packed", KernelAbi.h): the prologue reads the block's sequence from
// cu_seqlens and returns for a Q tile past its end before the barriers are initialised (so both roles
// agree); the tensor maps cover the whole [total, H, D] tensors and the producer adds the sequence's first
// row to the token coordinate. A tile's rows past the sequence's end hold the next sequence's tokens: the
// per-sequence Sk makes the last K/V tile a masked partial tile (P = 0 past Sk), and Q rows past Sq are
// never stored: a warpgroup whose 64 rows are all in the sequence stores them by TMA, one whose rows cross
// its end copies them out with 16-byte stores bounded by the sequence's length (a TMA box would write the
// next sequence's rows). On the persistent grid each role's tile loop reads the tile's sequence (tiles past
// its end are skipped by both) and defines the sizes per tile.
//
//===----------------------------------------------------------------------------------------===//
#include "EmitWalker.h"

namespace tilefuse::codegen {
namespace {

using namespace detail;

/// The mbarriers of one shared tile: a ring's full and empty barrier per slot; a tile loaded once, one
/// full barrier, and when persistent a full and an empty barrier per slot (Plan.cpp gives it 1 or 2).
int barriersOf(const SmemBuffer &b, bool persistent) { return b.loop || persistent ? 2 * b.stages : 1; }

/// The mbarriers of all shared tiles (barriersOf), which the dynamic tile scheduler's hand-off follows.
int barrierCountOf(const KernelPlan &p) {
  int bars = 0;
  for (const SmemBuffer &b : p.smem)
    bars += barriersOf(b, p.schedule.persistent);
  return bars;
}

class Sm90Emitter : public Emitter {
public:
  Sm90Emitter(const ResolvedKernel &r, const KernelPlan &p, const ParamLayout &params)
      : Emitter(r, p, params), consumers(static_cast<int>(r.blockM / 64)), cluster(p.schedule.cluster) {
    sequencePerTile = r.packed && persistent;
    check();
  }

  std::string run() override {
    header();
    w.open("extern \"C\" __global__ void __launch_bounds__(" + str(p.schedule.threadsPerBlock()) + ", 1) " +
           (cluster > 1 ? "__cluster_dims__(" + str(cluster) + ", 1, 1) " : std::string()) + r.kernelName +
           "(const __grid_constant__ " + r.kernelName + "_abi::Params p)");
    if (cluster > 1)
      w.line("const unsigned cta_rank = cluster_ctarank(); // this block's rank in its cluster of " + str(cluster));
    prologue();
    if (!persistent) {
      hoistScalars();
      initBarriers();
      declareRingCounters();
      w.line();
      w.open("if (warpgroup::index() == 0)");
      producer();
      w.orElse();
      consumer();
      drainStagedStores();
      w.close();
      leaveCluster();
      w.close();
      return w.str();
    }
    // Persistent: one block per SM loops over the tiles; the rings and their counters run on across
    // tiles, and Q's full / empty barriers flip phase once per tile.
    // Each role has its own tile loop under its setmaxnreg (so ptxas gives the consumers' loop their
    // registers); both compute the same program ids and scalars, under the same names.
    initBarriers();
    declareRingCounters();
    w.line();
    w.open("if (warpgroup::index() == 0)");
    w.line("warpgroup_reg_dealloc<24>(); // the producer needs few registers: the consumers get them");
    const ScalarExprs::Snapshot names = sx.snapshot();
    const llvm::DenseSet<Operation *> predefinedBefore = predefined;
    w.open("if (threadIdx.x == 0)");
    prefetchDescriptors();
    tileLoop(Role::Producer);
    hoistScalars();
    producerTile();
    w.close(); // the tile loop
    if (dynamic) {
      // After the producer's branch: placed before it, the scheduler's loop made ptxas spill 4-32 B in the
      // producer's K/V loop (24 registers) of sliding windows.
      sx.restore(names);
      predefined = predefinedBefore;
      w.orElse();
      w.open("if (threadIdx.x == 32)");
      tileLoop(Role::Scheduler);
      w.close();
    }
    w.close();
    w.orElse();
    sx.restore(names);
    predefined = predefinedBefore;
    w.line("warpgroup_reg_alloc<" + str(consumerRegs()) + ">();");
    declareTurns();
    tileLoop(Role::Consumers);
    hoistScalars();
    emitBlock(r.kernel.getBodyBlock());
    if (!qReleased)
      releaseOnceLoaded("this tile's program has finished with them");
    w.close(); // the tile loop
    drainStagedStores();
    w.close();
    leaveCluster();
    w.close();
    return w.str();
  }

private:
  // -- requirements --------------------------------------------------------------------------------------
  void check() {
    int loopsWithLoads = 0;
    for (const LoopPlan &lp : p.loops)
      loopsWithLoads += !lp.loads.empty();
    if (loopsWithLoads > 1)
      fail(r.kernel, "the sm90 backend takes one K/V loop with loads; this kernel has " +
                         std::to_string(loopsWithLoads) + " (use the sm80 backend: mma = mma_sync_m16n8k16)");
    for (const SmemBuffer &b : p.smem) {
      Operation *at = b.loads.front();
      if (b.staging)
        fail(at, "the sm90 backend reads Q from shared memory (wgmma SS); this tile is loaded into registers "
                 "(fuse with q-in=smem)");
      if (b.loop && !b.pipelined)
        fail(at, "the sm90 backend needs every load of the K/V loop to be issued ahead by the producer; this "
                 "one's indices or conditions are not functions of the loop's induction variable");
      if (b.cols % 16 != 0 || b.cols > 256 || b.rows % 8 != 0 || b.rows > 256)
        fail(at, "the sm90 backend loads tiles of 128-byte swizzle panels: columns a multiple of 16 up to 256 and "
                 "at most 256 rows (a multiple of 8); this tile is " + str(b.rows) + " x " + str(b.cols));
      const TensorInfo &t = r.tensorOf(b.loads.front().getSource());
      if (t.type.getRank() != 4)
        fail(at, "the sm90 backend's TMA loads take rank-4 tensors ([B, H, S, D]); " + t.sig.name + " has rank " +
                     str(t.type.getRank()));
    }
    if (turns || intra)
      checkPingpong();
    if (cluster > 1)
      checkCluster();
    if (p.smemBytes % 1024 != 0)
      fail(r.kernel, "internal: shared tiles of the sm90 backend must be whole 1024-byte swizzle atoms");
  }

  /// Clusters: both blocks of a cluster must visit the same K/V tiles in the same order, so nothing that
  /// decides the K/V loop's range or its loads may read the Q tile's program id.
  void checkCluster() {
    const std::string use = " (use cluster = 1)";
    if (r.packed)
      fail(r.kernel, "cluster = " + str(cluster) + " needs the Q tiles of a cluster in one sequence; packed sequences "
                     "do not keep them there" + use);
    if (p.blockMask.present)
      fail(r.kernel, "cluster = " + str(cluster) + " shares each K/V tile between neighbouring Q tiles; a run-time "
                     "block mask gives each Q tile its own list of K/V tiles" + use);
    for (const LoopPlan &lp : p.loops) {
      if (lp.loads.empty())
        continue;
      auto refuse = [&](Operation *at, const std::string &what) {
        fail(at, "cluster = " + str(cluster) + " shares each K/V tile between neighbouring Q tiles; this K/V loop's " +
                     what + " depends on the Q tile (a causal mask, a window or another mask that cuts the loop's "
                     "range per Q tile)" + use);
      };
      if (readsQTile(lp.op.getLowerBound()) || readsQTile(lp.op.getUpperBound()))
        refuse(lp.op, "range");
      std::function<bool(const IvBound &)> boundReads = [&](const IvBound &b) {
        return llvm::any_of(b.terms, [&](auto &t) { return readsQTile(t.first); }) ||
               llvm::any_of(b.args, boundReads);
      };
      if (llvm::any_of(lp.ends, boundReads) || llvm::any_of(lp.starts, boundReads))
        refuse(lp.op, "range (its mask-derived cut)");
      for (const PipelinedLoad &pl : lp.loads) {
        if (llvm::any_of(pl.conditions, [&](auto &c) { return readsQTile(c.first); }))
          refuse(pl.load, "load condition");
        if (llvm::any_of(pl.load.getIndices(), [&](Value v) { return readsQTile(v); }))
          refuse(pl.load, "load index");
      }
    }
  }

  /// Whether `v` is computed from the kernel's program id along x (the Q tile). Conservative: an op with
  /// regions, or a chain deeper than 256 ops, counts as reading it.
  bool readsQTile(Value v) {
    llvm::SmallVector<Value, 16> todo = {v};
    llvm::DenseSet<Value> seen;
    while (!todo.empty()) {
      Value u = todo.pop_back_val();
      if (!seen.insert(u).second)
        continue;
      if (seen.size() > 256)
        return true;
      if (auto arg = dyn_cast<BlockArgument>(u)) {
        if (arg.getOwner() == &r.kernel.getBodyBlock() && r.programIdAxis[arg.getArgNumber()] == 'x')
          return true;
        continue;
      }
      Operation *d = u.getDefiningOp();
      if (d->getNumRegions() > 0)
        return true;
      for (Value o : d->getOperands())
        todo.push_back(o);
    }
    return false;
  }

  /// Pingpong hands the turn over once per S = Q K^T and takes it once per O += P V: every path through
  /// the K/V loop must run the two forms in pairs, S first, so that each warpgroup's turns stay in step.
  void checkPingpong() {
    for (const LoopPlan &lp : p.loops) {
      if (lp.loads.empty())
        continue;
      llvm::DenseMap<Block *, llvm::SmallVector<MatmulOp, 2>> byBlock;
      lp.op.getBody()->walk([&](MatmulOp mm) { byBlock[mm->getBlock()].push_back(mm); });
      for (auto &[block, mms] : byBlock) {
        if (mms.size() != 2 || !mms[0].getTransposeB() || mms[1].getTransposeB())
          fail(mms.front(), "overlap = pingpong needs every path through the K/V loop to run one S = Q K^T and "
                            "then one O += P V; this block runs " + str(static_cast<int64_t>(mms.size())) +
                            " products (use overlap = none)");
        if (block->getParentOp() != lp.op.getOperation() && !isa<scf::IfOp>(block->getParentOp()))
          fail(mms.front(), "overlap = pingpong needs the K/V loop's products outside nested loops (use overlap = "
                            "none)");
        const int vb = p.bufferOf(mms[1].getRhs());
        if (vb >= 0)
          pvBuffers.insert(p.smem[vb].loadIndex);
        if (intra)
          checkDeferrable(mms[1], vb);
      }
    }
  }

  /// overlap = intra issues P V one iteration late (see the header): its product must accumulate in place
  /// into the loop's carried O, read only by the loop's yield, with P a register tile, the same for every
  /// path (one deferred product per iteration).
  void checkDeferrable(MatmulOp pv, int vb) {
    auto why = [&](const std::string &what) {
      fail(pv, "overlap = " + std::string(spelling(p.schedule.overlap)) + " issues O += P V one iteration late; " +
                   what + " (use overlap = none or pingpong)");
    };
    if (vb < 0 || !p.smem[vb].loop)
      why("its B operand must be a tile of the K/V loop's ring");
    if (!pv.getAcc() || r.tile(pv.getLhs()).cls != TileClass::Fragment)
      why("it must accumulate (O += P V) with P in registers");
    if (!pv.getResult().hasOneUse() || !isa<scf::YieldOp>(*pv.getResult().getUsers().begin()))
      why("its result may be read only by the loop's next iteration");
    const std::string acc = storage(pv.getAcc()), pType = storageType(p.storages[storageIndex(pv.getLhs())]);
    if (storage(pv.getResult()) != acc)
      why("it must accumulate in place");
    if (!deferred.acc.empty() && (deferred.acc != acc || deferred.pType != pType || deferred.vBuffer != vb))
      why("every path through the loop must run the same product");
    auto bType = cast<TileType>(pv.getRhs().getType());
    deferred = {acc, pType, vb, elemType(bType.getElementType()), bType.getDimSize(0), bType.getDimSize(1)};
  }

  // -- the frame --------------------------------------------------------------------------------------------
  void describeKernel() override {
    const std::string fn = r.func.getSymName().str();
    w.comment("Generated by Tilefuse (compiler/lib/codegen, sm90 backend) from @" + fn +
              ": fused attention forward, warp-specialized (FlashAttention-3, Shah et al. 2024, Sec. 3.1).");
    w.comment("Schedule: " + p.schedule.toString());
    codegen::GridRule grid = r.grid;
    grid.persistent = persistent;
    grid.cluster = cluster;
    w.comment("Launch: grid (" + grid.toString() + "), " + str(p.schedule.threadsPerBlock()) + " threads, " +
              std::to_string(sm90SmemBytes()) + " bytes of dynamic shared memory.");
    w.comment("Warpgroup 0 loads every tile by TMA into an mbarrier ring; consumer warpgroup c = 1.." +
              str(consumers) + " owns query rows [64 (c - 1), 64 c) of the Q tile, its warp w rows");
    w.comment("[16 w, 16 w + 16) of those; S, P, O, m, l live in the consumers' registers (wgmma fragments).");
  }

  std::vector<std::string> extraIncludes() override {
    std::vector<std::string> out = {"tilefuse/device/mbarrier.cuh", "tilefuse/device/tma.cuh",
                                    "tilefuse/device/warpgroup/mma.cuh"};
    if (p.staged)
      out.push_back("tilefuse/device/warpgroup/epilogue.cuh");
    if (cluster > 1)
      out.push_back("tilefuse/device/cluster.cuh");
    if (dynamic)
      out.push_back("tilefuse/device/tile_scheduler.cuh");
    return out;
  }

  std::size_t sm90SmemBytes() const { return sm90DynamicSmemBytes(p); }
  /// The shared address of the dynamic tile scheduler's hand-off (tile_handoff), after the ring's mbarriers: an
  /// expression of `bars`, so no register holds it.
  std::string handoff() const { return "bars + " + str(8 * barrierCount()) + "u"; }

  int barrierCount() const { return barrierCountOf(p); }

  void declareSmem() override {
    w.line();
    w.comment("Shared memory: 128B-swizzled tiles (sw128, 1024-byte aligned, as the TMA writes them), then "
              "one mbarrier per tile loaded once and a full and an empty mbarrier per ring slot.");
    w.line("extern __shared__ __align__(1024) unsigned char smem[];");
    w.line("const unsigned smem_base = (smem_u32(smem) + 1023u) & ~1023u;");
    int bar = 0;
    for (const SmemBuffer &b : p.smem) {
      w.line("const unsigned " + b.name + " = smem_base + " + std::to_string(b.offset) + "u; // sw128<" +
             str(b.rows) + ", " + str(sm90SmemCols(static_cast<int>(b.cols))) + ">" +
             (b.cols % 64 ? " (columns " + str(b.cols) + ".." + str(sm90SmemCols(static_cast<int>(b.cols)) - 1) +
                                ": TMA zero fill)"
                          : "") +
             (b.stages > 1 ? " x " + str(b.stages) + " slots of " + std::to_string(b.bytesPerStage) + " bytes" : ""));
      barOf[&b - p.smem.data()] = bar;
      bar += barriersOf(b, persistent);
    }
    if (p.staged)
      w.comment("store_smem = smem_base + " + std::to_string(p.staged->offset) + ": sw128<" + str(p.staged->rows) +
                ", " + str(sm90SmemCols(static_cast<int>(p.staged->cols))) + ">, " +
                r.tensorOf(p.staged->op.getDest()).sig.name + "'s tile on its way out (" +
                (r.packed ? "TMA store, or 16-byte stores for a sequence's last rows" : "TMA store") +
                "; defined where it is written, so no register holds it through the K/V loop)");
    w.line("const unsigned bars = smem_base + " + std::to_string(p.smemBytes) + "u; // " + str(barrierCount()) +
           " mbarriers of 8 bytes");
    if (dynamic)
      w.comment(handoff() + ": the dynamic tile scheduler's hand-off (tile_handoff: a full and an empty mbarrier, "
                "then the int32 slot of the claimed tile)");
  }

  void declareWarpRow() override {
    w.line("const int warp_row0 = 16 * (warpid() - 4); // consumer warps: this warp's first row in the Q tile");
    w.line("const int wg_row0 = 64 * (warpgroup::index() - 1); // consumer warpgroups: first row of the 64");
  }

  /// Address expressions of the barriers of buffer b: a tile loaded once has one (full); a ring has
  /// full[slot] and empty[slot].
  /// A tile loaded once has `stages` slots only when persistent (the tile's slot: onceSlot()), else one.
  std::string fullBar(int b, const std::string &slot = "") const {
    const int base = barOf.at(b);
    if (!p.smem[b].loop && p.smem[b].stages == 1)
      return "bars + " + str(8 * base) + "u";
    return "bars + 8u * (" + str(base) + " + " + (p.smem[b].loop ? slot : onceSlot(b)) + ")";
  }
  std::string emptyBar(int b, const std::string &slot) const {
    if (!p.smem[b].loop && p.smem[b].stages == 1) // persistent only: the consumers are done with this tile's copy
      return "bars + " + str(8 * (barOf.at(b) + 1)) + "u";
    return "bars + 8u * (" + str(barOf.at(b) + p.smem[b].stages) + " + " + (p.smem[b].loop ? slot : onceSlot(b)) +
           ")";
  }
  /// Persistent: the slot of a tile loaded once that this block's current tile uses, and the phase of
  /// its full barrier (the slot's fills so far, mod 2).
  std::string onceSlot(int b) const {
    return p.smem[b].stages == 1 ? std::string("0") : "(tile_iter % " + str(p.smem[b].stages) + ")";
  }
  std::string oncePhase(int b) const {
    return p.smem[b].stages == 1 ? std::string("tile_iter & 1") : "(tile_iter / " + str(p.smem[b].stages) + ") & 1";
  }

  void initBarriers() {
    w.open("if (threadIdx.x == 0)");
    for (const SmemBuffer &b : p.smem) {
      const int i = static_cast<int>(&b - p.smem.data());
      if (!b.loop) {
        if (!persistent) {
          w.line("mbarrier_init(" + fullBar(i) + ", 1);");
          continue;
        }
        w.open("for (int s = 0; s < " + str(2 * b.stages) + "; ++s)");
        w.line("mbarrier_init(bars + 8u * (" + str(barOf.at(i)) + " + s), s < " + str(b.stages) + " ? 1 : " +
               str(4 * consumers) + "); // full: the producer's arrival; empty: one arrival per consumer warp when "
               "it is done with the tile's copy");
        w.close();
        continue;
      }
      w.open("for (int s = 0; s < " + str(b.stages) + "; ++s)");
      w.line("mbarrier_init(" + fullBar(i, "s") + ", 1); // the producer's arrival + the TMA bytes");
      w.line("mbarrier_init(" + emptyBar(i, "s") + ", " + str(4 * consumers * cluster) + "); // one arrival per consumer warp" +
             (cluster > 1 ? " of each block of the cluster" : ""));
      w.close();
    }
    if (dynamic)
      w.line("tile_handoff::init(" + handoff() + ", " + str(4 * consumers + 1) +
             "); // empty: an arrival per consumer warp and one of the TMA producer thread once they have read the tile");
    w.line("mbarrier_init_fence();");
    w.close();
    if (cluster > 1)
      w.line("cluster_sync(); // both blocks' barriers are initialised before either block's TMA or arrivals reach "
             "them; no block-wide barrier from here on");
    else
      w.line("__syncthreads(); // the barriers are initialised; no block-wide barrier from here on");
  }

  /// Clusters: every thread waits for the peer block before the kernel returns (its TMA copies may still
  /// write this block's slots, its consumers arrive on this block's empty barriers).
  void leaveCluster() {
    if (cluster == 1)
      return;
    w.line("cluster_arrive(); // the peer block no longer writes this block's shared memory once it has arrived");
    w.line("cluster_wait();");
  }

  /// The consumers' hand-back of a K/V ring slot (lane 0 of each warp; with clusters lane r arrives on block
  /// r's barrier, so a slot is refilled once the consumers of every block of the cluster are done with it).
  /// Branch-free, so it can sit between a wgmma issue and its wait.
  std::string ringRelease(const std::string &bar) const {
    if (cluster > 1)
      return "mbarrier_arrive_cluster_if(" + bar + ", laneid() % " + str(cluster) + ", laneid() < " + str(cluster) + ");";
    return "mbarrier_arrive_if(" + bar + ", laneid() == 0);";
  }

  /// Writes the kernel body's top-level scalar ops that depend on nothing but program ids and sizes
  /// above the role split: both roles index tiles with them.
  void hoistScalars() {
    llvm::DenseSet<Operation *> tileOps;
    for (Operation &op : r.kernel.getBodyBlock()) {
      if (!isScalarOp(&op)) {
        tileOps.insert(&op);
        continue;
      }
      bool ok = llvm::all_of(op.getOperands(), [&](Value v) {
        Operation *d = v.getDefiningOp();
        return !d || !tileOps.count(d);
      });
      if (!ok) {
        tileOps.insert(&op);
        continue;
      }
      sx.define(&op, w);
      predefined.insert(&op);
    }
  }

  // -- the producer warpgroup ---------------------------------------------------------------------------------
  /// The token (row) and batch coordinates of a TMA box at tile indices `idx` (batch, head, row, col) of
  /// tensor `t`, `plus` added to the row ("" or " + wg_row0").
  std::pair<std::string, std::string> tmaRowAndBatch(const TensorInfo &t, const std::vector<std::string> &idx,
                                                     const std::string &plus) const {
    if (!r.packed || t.sig.role == TensorRole::Capture)
      return {asInt(idx[2]) + plus, asInt(idx[0])};
    // Packed: the map covers the whole [total, H, D] tensor as [1, H, total, D] (runtime/lib/Launch.h:
    // tmaMapOf); the sequence's first row moves the token coordinate. Rows a load reads past the sequence's
    // end are the next sequence's (or the TMA's zeros past total): the K/V tail tile is masked by the
    // per-sequence Sk, and Q rows past Sq are computed but never stored.
    const bool keys = t.sig.role == TensorRole::K || t.sig.role == TensorRole::V;
    const std::string start = idx[0] == packedBatch ? std::string(keys ? kPackedSeqStartK : kPackedSeqStartQ)
                                                    : std::string(keys ? "p.cu_seqlens_k[" : "p.cu_seqlens_q[") +
                                                          idx[0] + "]";
    return {"static_cast<int>(" + start + " + " + paren(idx[2]) + ")" + plus, "0"};
  }

  /// The TMA copies of one tile: one box of [rows x 64] per 128-byte column panel (the last one partly past
  /// the tensor's columns when they are not a multiple of 64: the TMA writes zeros there).
  /// Clusters (a K/V ring tile, `box` counting the iteration's boxes so far): box k is issued by block
  /// k % cluster only, multicast into the same slot of every block.
  void tmaCopy(int b, const std::vector<std::string> &idx, const std::string &dst, const std::string &bar,
               int *box = nullptr) {
    const SmemBuffer &buf = p.smem[b];
    const TensorInfo &t = r.tensorOf(buf.loads.front().getSource());
    const std::string map = "p." + t.sig.name + "_tma";
    w.line("mbarrier_arrive_expect_tx(" + bar + ", " + std::to_string(buf.bytesPerStage) + "u);" +
           (box ? " // the whole tile: this block's boxes and the peer's land in this slot" : ""));
    const std::string col = idx[3] == "0" ? "" : asInt(idx[3]) + " + ";
    const auto [row, batch] = tmaRowAndBatch(t, idx, "");
    const std::string mask = "0x" + str((1 << cluster) - 1);
    for (int pn = 0; pn < sm90SmemCols(static_cast<int>(buf.cols)) / 64; ++pn) {
      const std::string to = dst + (pn ? " + " + std::to_string(pn * buf.rows * 128) + "u" : "") + ", " + map +
                             ", " + bar + ", ";
      const std::string at = col + str(64 * pn) + ", " + row + ", " + asInt(idx[1]) + ", " + batch + ");";
      if (!box) {
        w.line("tma_load_4d(" + to + at);
        continue;
      }
      w.line("if (cta_rank == " + str((*box)++ % cluster) + "u) tma_load_4d_multicast(" + to + mask + ", " + at);
    }
  }

  /// The conditions under which pipelined load `pl` is issued, with the induction variable bound to `iv`
  /// ("" when unconditional).
  std::string loadCondition(const LoopPlan &lp, const PipelinedLoad &pl, const std::string &iv) {
    llvm::DenseMap<Value, std::string> subst;
    subst[lp.op.getInductionVar()] = iv;
    std::string cond;
    for (auto &[c, positive] : pl.conditions)
      cond += (cond.empty() ? "" : " && ") + std::string(positive ? "" : "!") +
              paren(*sx.expand(c, lp.op.getRegion(), subst));
    return cond;
  }

  void producer() {
    w.line("warpgroup_reg_dealloc<24>(); // the producer needs few registers: the consumers get them");
    w.open("if (threadIdx.x == 0)");
    prefetchDescriptors();
    producerTile();
    w.close();
  }

  void prefetchDescriptors() {
    for (const ParamField &f : params.fields)
      if (f.source == ParamSource::TensorMap)
        w.line("tma_prefetch_descriptor(p." + f.name + ");");
  }

  /// The producer thread's loads of one tile: the tiles loaded once, in program order, then the K/V
  /// loop's tiles into their rings.
  void producerTile() {
    for (const SmemBuffer &b : p.smem) {
      if (b.loop)
        continue;
      const int bi = static_cast<int>(&b - p.smem.data());
      LoadOp load = b.loads.front();
      w.comment(where(load) + ": " + r.tensorOf(load.getSource()).sig.name + " tile -> " + b.name);
      if (persistent)
        w.line("if (tile_iter >= " + str(b.stages) + ") mbarrier_wait(" + emptyBar(bi, "") + ", (tile_iter / " +
               str(b.stages) + " - 1) & 1); // the consumers are done with the slot's last tile");
      tmaCopy(bi, refs(load.getIndices()), tileRef(bi), fullBar(bi));
    }
    for (const LoopPlan &lp : p.loops) {
      if (lp.loads.empty())
        continue;
      w.comment(cluster > 1 ? "The K/V loop's tiles, in the consumers' order, each into the next slot of its ring of both "
                              "blocks (half of each tile's boxes from each block's producer)."
                            : "The K/V loop's tiles, in the consumers' order, each into the next slot of its ring.");
      int box = 0;
      w.open("");
      const std::pair<std::string, std::string> bounds = loopBounds(lp);
      w.open("for (int it = 0; it < " + bounds.second + "; ++it)");
      const std::string iv = sx.fresh("kv_next");
      w.line("const long long " + iv + " = " + ivAt(bounds.first, "it", lp.step) + ";");
      for (size_t i = 0; i < lp.loads.size(); ++i) {
        const PipelinedLoad &pl = lp.loads[i];
        const std::string cond = loadCondition(lp, pl, iv);
        w.open(cond.empty() ? std::string("") : "if (" + cond + ")");
        const std::string n = "issued" + str(i), S = str(lp.stages);
        w.line("const int slot = " + n + " % " + S + ";");
        w.line("if (" + n + " >= " + S + ") mbarrier_wait(" + emptyBar(pl.buffer, "slot") + ", ((" + n + " / " + S +
               ") & 1) ^ 1); // the consumers" + (cluster > 1 ? " of both blocks" : "") + " are done with the slot's "
               "last tile");
        llvm::DenseMap<Value, std::string> subst;
        subst[lp.op.getInductionVar()] = iv;
        std::vector<std::string> idx;
        for (Value v : pl.load.getIndices())
          idx.push_back(*sx.expand(v, lp.op.getRegion(), subst));
        tmaCopy(pl.buffer, idx, p.smem[pl.buffer].name + " + slot * " + std::to_string(p.smem[pl.buffer].bytesPerStage) + "u",
                fullBar(pl.buffer, "slot"), cluster > 1 ? &box : nullptr);
        w.line("++" + n + ";");
        w.close();
      }
      w.close();
      w.close();
    }
  }

  // -- the persistent tile loop ------------------------------------------------------------------------------
  int consumerRegs() const { return consumers == 3 ? 160 : 240; }

  /// The ring counters of the K/V loop, at kernel scope (persistent: they run on across tiles).
  void declareRingCounters() {
    for (const LoopPlan &lp : p.loops)
      for (size_t i = 0; i < lp.loads.size(); ++i)
        w.line("int issued" + str(i) + " = 0, consumed" + str(i) + " = 0; // " + p.smem[lp.loads[i].buffer].name +
               " tiles issued (producer) / taken from the ring (consumers)");
  }

  /// One grid dim's extent as C: ceil(size / divisor) from Params, or 1.
  std::string extentOf(const GridDimRule &g) const {
    if (g.size.empty())
      return "1";
    const bool inParams = llvm::any_of(params.fields, [&](const ParamField &f) {
      return f.source == ParamSource::Size && f.name == g.size;
    });
    if (!inParams)
      fail(r.kernel, "internal: the persistent grid needs size " + g.size + " in Params");
    if (g.divisor == 1)
      return "p." + g.size;
    return "(p." + g.size + " + " + std::to_string(g.divisor - 1) + ") / " + std::to_string(g.divisor);
  }

  /// Opens `for (tile ...)` over the x * y * z tiles and binds the program ids. Tiles are numbered with x
  /// (the Q tiles of one head) fastest, descending unless q_tile_order = ascending: the blocks running at
  /// once hold every Q tile of a few heads, whose K/V is read from HBM once and then hit in L2. (The
  /// earlier order, x slowest within L2 sections of up to 32 MiB of K/V, hit L2 on 53% of the sectors of
  /// B16 H16 S1024 D128 against 74% here (ncu), and ran 0.290 vs 0.250 ms there, 0.547 vs 0.516 ms on
  /// causal B4 H16 S4096, H200.)
  /// The threads that run a tile loop: the TMA producer thread, the consumer warpgroups, or (q_tile_order =
  /// dynamic) the scheduler thread, which claims the tiles the other two receive.
  enum class Role { Scheduler, Producer, Consumers };

  void tileLoop(Role role) {
    const GridDimRule *dims[3] = {&r.grid.x, &r.grid.y, &r.grid.z};
    if (dynamic)
      w.comment("Persistent grid: min(tiles, SMs) blocks; each takes its next tile as it frees up (q_tile_order = "
                "dynamic: thread 32 claims it from p.tile_counter), the Q tiles of a head consecutive.");
    else
      w.comment("Persistent grid: min(tiles, SMs) blocks; block b runs tiles b, b + gridDim.x, ... (pairs of tiles "
                "with q_tile_order = paired; back and forth with snake), the Q tiles of a head consecutive.");
    for (int a = 0; a < 3; ++a)
      w.line(std::string("const int tiles_") + "xyz"[a] + " = static_cast<int>(" + extentOf(*dims[a]) + "); // grid " +
             dims[a]->toString());
    if (cluster > 1) {
      const std::string c = str(cluster);
      w.comment("Clusters of " + c + ": cluster k runs the tile groups k, k + gridDim.x / " + c + ", ...; a group is " + c +
                " neighbouring Q tiles of one (batch, head), one per block (a block past the last Q tile runs it again).");
      w.line("const int groups_x = (tiles_x + " + str(cluster - 1) + ") / " + c + ";");
      w.line("const int n_tiles = groups_x * tiles_y * tiles_z; // tile groups, < 2^31 (GridRule::evaluate)");
    } else if (paired) {
      w.comment("Pairs of Q tiles (q_tile_order = paired): pair i of a head is Q tile n - 1 - i, then Q tile i, the same "
                "work under a causal mask; the middle tile of an odd count alone.");
      w.line("const int pairs_x = (tiles_x + 1) / 2;");
      w.line("const int n_tiles = pairs_x * tiles_y * tiles_z; // pairs, < 2^31 (GridRule::evaluate)");
    } else {
      w.line("const int n_tiles = tiles_x * tiles_y * tiles_z; // < 2^31 (GridRule::evaluate)");
    }
    if (role == Role::Scheduler)
      return schedulerLoop();
    w.line("int tile_iter = 0; // this block's tiles so far: the phase of the once-loaded tiles' barriers");
    w.comment("32-bit tile arithmetic: 64-bit values live across the K/V loop cost registers the pingpong consumers "
              "do not have (document_mask spilled 56 B at D=128).");
    if (cluster > 1) {
      const std::string c = str(cluster);
      w.open("for (int tile = blockIdx.x / " + c + "; tile < n_tiles; tile += gridDim.x / " + c + ", ++tile_iter)");
      w.line("const int x_idx = min(" + c + " * (tile % groups_x) + static_cast<int>(cta_rank), tiles_x - 1), yz = tile / "
             "groups_x;");
    } else if (paired) {
      w.comment("Step s runs the (s % 2)-th tile of pair blockIdx.x + (s / 2) gridDim.x.");
      w.open("for (int pair_step = 0, pair = blockIdx.x; pair < n_tiles; ++pair_step, pair = blockIdx.x + (pair_step >> 1) * "
             "gridDim.x, ++tile_iter)");
      w.line("const int i_pair = pair % pairs_x, yz = pair / pairs_x;");
      w.line("const int x_idx = (pair_step & 1) ? tiles_x - 1 - i_pair : i_pair; // Q tile n - 1 - x_idx: the heavier one "
             "first");
      w.line("if ((pair_step & 1) && x_idx == i_pair) { --tile_iter; continue; } // the middle Q tile runs once");
    } else if (dynamic) {
      const std::string receive = role == Role::Producer ? "tile_handoff::receive_one" : "tile_handoff::receive";
      w.comment("Dynamic (q_tile_order = dynamic): hand-off n of the scheduler (thread 32) is this block's n-th tile, "
                "until the one past the last" + std::string(sequencePerTile ? " (it hands over no Q tile past a "
                                                                              "sequence's end)" : "") + ".");
      w.open("for (int tile = " + receive + "(" + handoff() + ", 0);; ++tile_iter, tile = " + receive + "(" + handoff() +
             ", tile_iter))");
      w.line("if (tile >= n_tiles) break;");
      w.line("const int x_idx = tile % tiles_x, yz = tile / tiles_x;");
    } else if (snake) {
      w.comment("Snake (q_tile_order = snake): round k of gridDim.x consecutive tiles goes to blocks 0, 1, ... when k is "
                "even and to blocks gridDim.x - 1, gridDim.x - 2, ... when k is odd: a block's places alternate between the "
                "two ends of a round.");
      w.open("for (int deal_round = 0, tile = blockIdx.x; tile < n_tiles; ++deal_round, tile = deal_round * gridDim.x + "
             "((deal_round & 1) ? gridDim.x - 1 - blockIdx.x : blockIdx.x), ++tile_iter)");
      w.line("const int x_idx = tile % tiles_x, yz = tile / tiles_x;");
    } else {
      w.open("for (int tile = blockIdx.x; tile < n_tiles; tile += gridDim.x, ++tile_iter)");
      w.line("const int x_idx = tile % tiles_x, yz = tile / tiles_x;");
    }
    bindProgramIds();
    if (sequencePerTile) {
      // Packed: this tile's sequence and sizes. Both roles skip the same tiles, and a skipped tile takes no
      // turn of the once-loaded tiles' barriers. The dynamic scheduler hands over no tile to skip.
      packedSequence(dynamic ? "" : "{ --tile_iter; continue; }");
      defineFunctionScalars();
    }
  }

  /// The program ids of the tile (x_idx, yz) of the persistent tile loop.
  void bindProgramIds() {
    Block &body = r.kernel.getBodyBlock();
    for (unsigned k = 0; k < body.getNumArguments(); ++k) {
      const std::string name = sx.fresh(r.scalarNames.lookup(body.getArgument(k)));
      const char axis = r.programIdAxis[k];
      if (axis == 'x' && p.schedule.qTileOrder != QTileOrder::Ascending)
        w.line("const long long " + name + " = tiles_x - 1 - x_idx; // the last (longest under a causal mask) Q "
               "tiles first");
      else
        w.line("const long long " + name + " = " + (axis == 'x' ? "x_idx" : axis == 'y' ? "yz % tiles_y" : "yz / tiles_y") +
               ";");
      sx.bind(body.getArgument(k), name);
    }
  }

  /// q_tile_order = dynamic: the scheduler thread's loop. It claims blockIdx.x, then gridDim.x + the counter, each
  /// claim once the receivers have taken the last tile (one tile claimed ahead of the one the block runs), hands
  /// over each tile the block runs (packed: not those past a sequence's end, which it claims past at once), and
  /// at the end the claim past the last tile, which stops the receivers.
  void schedulerLoop() {
    w.comment("Dynamic tile scheduler (q_tile_order = dynamic): hand-off n goes to the TMA producer thread and every "
              "consumer warp; the next claim waits until they all have taken it.");
    w.open("for (int handoffs = 0, tile = blockIdx.x;; tile = tile_handoff::claim(p.tile_counter))");
    if (sequencePerTile) {
      w.open("if (tile < n_tiles)");
      w.line("const int x_idx = tile % tiles_x, yz = tile / tiles_x;");
      bindProgramIds();
      packedSequence("continue;");
      w.close();
    }
    w.line("tile_handoff::publish(" + handoff() + ", tile);");
    w.open("if (tile >= n_tiles)");
    w.line("tile_handoff::done(p.tile_counter); // the last block to finish resets the counter");
    w.line("break;");
    w.close();
    w.line("tile_handoff::wait_free(" + handoff() + ", ++handoffs);");
    w.close();
  }

  void programIds() override {
    if (persistent)
      return;
    if (cluster == 1)
      return Emitter::programIds();
    // Clusters: the grid's x is rounded up to whole clusters; a block past the last Q tile runs the last
    // one again (the same values written twice), so that its cluster's K/V tiles are loaded in full.
    w.comment("Program ids: grid " + r.grid.toString() + ", clusters of " + str(cluster) + " along x.");
    w.line("const int tiles_x = static_cast<int>(" + extentOf(r.grid.x) + ");");
    w.line("const int x_idx = min(static_cast<int>(blockIdx.x), tiles_x - 1);");
    Block &body = r.kernel.getBodyBlock();
    for (unsigned k = 0; k < body.getNumArguments(); ++k) {
      const std::string name = sx.fresh(r.scalarNames.lookup(body.getArgument(k)));
      const char axis = r.programIdAxis[k];
      if (axis == 'x')
        w.line("const long long " + name + " = " +
               (p.schedule.qTileOrder == QTileOrder::Descending ? "tiles_x - 1 - x_idx; // last Q tiles first"
                                                                : "x_idx;"));
      else
        w.line("const long long " + name + " = blockIdx." + std::string(1, axis) + ";");
      sx.bind(body.getArgument(k), name);
    }
  }

  /// q = registers: the ldmatrix of the TMA-written tile (warpgroup::load_sw128); S = Q K^T then reads it as
  /// wgmma's A.
  std::string hoistedLoad(const Storage &st, int buffer) override {
    const SmemBuffer &b = p.smem[buffer];
    return "warpgroup::load_sw128<" + b.elemC + ", " + str(b.rows) + ", " + str(st.cols) + ">(" + st.name + ", " +
           tileRef(buffer) + ", warp_row0);";
  }

  /// Persistent, q = registers: once every tile loaded once is in registers, their slots go back to the
  /// producer at once (the next tile's Q loads during this tile's K/V loop).
  void releaseIfAllHoisted(int loaded) {
    bool all = true;
    for (const SmemBuffer &b : p.smem)
      if (!b.loop)
        for (LoadOp l : b.loads)
          all = all && p.hoisted.count(l.getResult());
    if (persistent && loaded > 0 && all && !qReleased)
      releaseOnceLoaded("copied into registers");
  }

  /// Consumers: one arrival per warp on the empty barrier of every tile loaded once (persistent).
  void releaseOnceLoaded(const std::string &why) {
    w.comment("Tiles loaded once: " + why + "; the producer may load the next tile's.");
    w.line("__syncwarp();");
    for (const SmemBuffer &b : p.smem)
      if (!b.loop)
        w.line("mbarrier_arrive_if(" + emptyBar(static_cast<int>(&b - p.smem.data()), "") + ", laneid() == 0);");
    qReleased = true;
  }

  // -- pingpong ------------------------------------------------------------------------------------------------
  /// The named barriers of the turns: consumer warpgroup c (1..C) waits on barrier c and hands over on
  /// c % C + 1 (256 threads each: its own 128 and the 128 of the warpgroup before it). Warpgroup C hands
  /// warpgroup 1 its first turn.
  void declareTurns() {
    if (!turns)
      return;
    w.comment("Pingpong (FA3 Sec. 3.1): the consumer warpgroups take turns at the tensor cores on named barriers "
              "1.." + str(consumers) + ".");
    w.line("const int turn_bar = warpgroup::index(); // this warpgroup's turn");
    w.line("const int next_bar = warpgroup::index() % " + str(consumers) + " + 1; // the next warpgroup's turn");
    w.line("if (warpgroup::index() == " + str(consumers) + ") named_barrier_arrive<256>(1); // warpgroup 1 goes first");
  }

  /// Pingpong: after a wait that covers the last O += P V, hands its V slot back.
  void releasePending() {
    for (int i : pvBuffers) {
      const std::string n = "pending" + str(i);
      const int b = bufferOfLoadIndex(i);
      w.open("if (" + n + " >= 0)");
      w.line(ringRelease(emptyBar(b, n)) + " // the last P V has read " + p.smem[b].name +
             ": the producer may refill the slot");
      w.line(n + " = -1;");
      w.close();
    }
  }

  // -- intra-warpgroup overlap -----------------------------------------------------------------------------
  std::string pendingVar() const { return "pending" + str(p.smem[deferred.vBuffer].loadIndex); }
  std::string lateVar() const { return "late" + str(p.smem[deferred.vBuffer].loadIndex); }

  /// Issues the P V deferred from the last iteration, if any (its slot becomes the pending one), as one
  /// wgmma group that is empty when there is none: the waits that follow are then unconditional, which
  /// ptxas needs to keep the wgmma pipelined (a wait under a branch makes it serialize them, C7515).
  void issueDeferred(const std::string &why) {
    w.open("if (" + lateVar() + " >= 0)");
    deferredProduct(false, why);
    w.line(pendingVar() + " = " + lateVar() + "; " + lateVar() + " = -1;");
    w.close();
    w.line("warpgroup::commit(); // that P V, or an empty group");
  }

  /// The deferred O += P_late V (V in the slot lateVar()), committed as its own group or left for the
  /// caller's commit.
  void deferredProduct(bool commit, const std::string &why) {
    const SmemBuffer &v = p.smem[deferred.vBuffer];
    w.line("warpgroup::mma_AB_async<" + deferred.T + ", " + str(deferred.k) + ", " + str(deferred.n) +
           (commit ? "" : ", false") + ">(" + deferred.acc + ", p_late, " + v.name + " + " + lateVar() + " * " +
           std::to_string(v.bytesPerStage) + "u); // P V of " + why);
  }

  /// Waits for the P V in flight (unconditionally: nothing in flight costs nothing) and hands its V slot
  /// back if there was one.
  void waitDeferred(const std::string &why) {
    w.line("warpgroup::mma_wait<0>(" + accList("") + "); // " + why);
    releasePending();
  }

  /// Before the first op of a block that touches a carried accumulator of the K/V loop (overlap = intra):
  /// wait for the P V that may be writing it.
  void beforeTileOp(Operation *op) override {
    if (!intra || !curLoop || curLoop->loads.empty() || isa<MatmulOp>(op) || waitedIn.count(op->getBlock()))
      return;
    bool touches = llvm::any_of(op->getResults(), [&](Value v) { return touchesAcc(v, 0); });
    for (Value v : op->getOperands())
      touches = touches || touchesAcc(v, 0);
    if (!touches)
      return;
    waitedIn.insert(op->getBlock());
    waitDeferred("a P V in flight writes " + accList("") + ", which this op touches");
  }

  /// Whether `v` is (or is computed element-wise without its own registers from) a carried accumulator.
  bool touchesAcc(Value v, int depth) {
    if (!isa<TileType>(v.getType()))
      return false;
    if (p.hoisted.count(v) || p.storageOf.count(v))
      return llvm::is_contained(loopAccs, storage(v));
    Operation *d = v.getDefiningOp();
    if (!d || !isElementwise(d))
      return false;
    if (depth > 16) // deep chains of fused element-wise ops: wait, to be safe
      return true;
    return llvm::any_of(d->getOperands(), [&](Value in) { return touchesAcc(in, depth + 1); });
  }

  int bufferOfLoadIndex(int i) const {
    for (const SmemBuffer &b : p.smem)
      if (b.loop && b.loadIndex == i)
        return static_cast<int>(&b - p.smem.data());
    fail(r.kernel, "internal: no ring of load " + str(i));
  }

  std::string accList(const std::string &first) const {
    std::string out = first;
    for (const std::string &a : loopAccs)
      if (a != first)
        out += (out.empty() ? "" : ", ") + a;
    return out;
  }

  // -- the consumer warpgroups ------------------------------------------------------------------------------
  void consumer() {
    w.line("warpgroup_reg_alloc<" + str(consumerRegs()) + ">();");
    declareTurns();
    emitBlock(r.kernel.getBodyBlock());
  }

  /// The slot / phase variables of buffer b in the current iteration.
  std::string slotOf(int b) const { return "slot" + str(p.smem[b].loadIndex); }
  std::string phaseOf(int b) const { return "phase" + str(p.smem[b].loadIndex); }

  void ensureReady(int b) override {
    const SmemBuffer &buf = p.smem[b];
    if (!buf.loop) {
      if (waitedOnce.insert(b).second)
        w.line("mbarrier_wait(" + fullBar(b) + ", " + (persistent ? oncePhase(b) : std::string("0")) + "); // " +
               buf.name + " has landed");
      return;
    }
    w.line("mbarrier_wait(" + fullBar(b, slotOf(b)) + ", " + phaseOf(b) + "); // " + buf.name + " has landed");
  }

  std::string tileRef(int b) const {
    const SmemBuffer &buf = p.smem[b];
    if (!buf.loop)
      return buf.stages == 1 ? buf.name
                             : buf.name + " + " + onceSlot(b) + " * " + std::to_string(buf.bytesPerStage) + "u";
    return buf.name + " + " + slotOf(b) + " * " + std::to_string(buf.bytesPerStage) + "u";
  }

  /// The staged store (Plan.h StagedStore; warpgroup/epilogue.cuh): this warpgroup's 64 rows through
  /// store_smem and one TMA box per 64-column panel. Other stores: the sm80 form (EmitWalker.h).
  void emitStore(StoreOp store) override {
    if (!p.staged || p.staged->op != store)
      return Emitter::emitStore(store);
    const StagedStore &s = *p.staged;
    const TensorInfo &t = r.tensorOf(store.getDest());
    const std::vector<std::string> idx = refs(store.getIndices());
    const std::string v = storage(store.getValue());
    const std::string bar = "static_cast<int>(" + str(consumers) + " + warpgroup::index())";
    w.comment(where(store) + ": " + v + " -> " + t.sig.name + " through store_smem: this warpgroup's 64 rows by TMA " +
              (r.packed ? "when they are all in the sequence, else by 16-byte stores that stop at its end (a TMA box "
                          "would write the next sequence's rows)"
                        : "(rows past the end are not written)"));
    w.line("const unsigned store_smem = smem_base + " + std::to_string(s.offset) + "u;");
    w.line("if (warpgroup::thread_index() == 0) tma_store_wait_read<0>(); // the last tile's store has read "
           "store_smem");
    w.line("named_barrier_sync<128>(" + bar + "); // store_smem is free");
    w.line("warpgroup::store_sw128<" + t.elemC + ", " + str(s.rows) + ", " + str(s.cols) + ">(store_smem, " + v +
           ", warp_row0);");
    if (r.packed)
      w.open("if (" + asInt(idx[2]) + " + wg_row0 + 64 <= " + asInt(kPackedSeqLenQ) + ")");
    w.line("fence_proxy_async_smem(); // the TMA store reads what this thread wrote");
    w.line("named_barrier_sync<128>(" + bar + "); // the warpgroup's rows are written");
    w.open("if (warpgroup::thread_index() == 0)");
    const std::string col = idx[3] == "0" ? "" : asInt(idx[3]) + " + ";
    const auto [row, batch] = tmaRowAndBatch(t, idx, " + wg_row0");
    for (int pn = 0; pn < sm90SmemCols(static_cast<int>(s.cols)) / 64; ++pn)
      w.line("tma_store_4d(p." + t.sig.name + "_tma, store_smem + " +
             (pn ? std::to_string(static_cast<std::size_t>(pn) * s.rows * 128) + "u + " : std::string()) +
             "wg_row0 * 128u, " + col + str(64 * pn) + ", " + row + ", " + asInt(idx[1]) + ", " + batch + ");");
    w.line("tma_store_commit();");
    w.close();
    if (!r.packed)
      return;
    w.orElse(); // the sequence's last rows: the warpgroup's threads copy them out themselves
    View view_ = view(store.getDest(), idx, 2, true);
    w.line("named_barrier_sync<128>(" + bar + "); // the warpgroup's rows are written");
    w.line("warpgroup::store_rows_from_sw128<" + t.elemC + ", " + str(s.rows) + ", " + str(s.cols) + ">(" + view_.gv +
           ", store_smem, wg_row0, " + asInt(view_.row0) + " + wg_row0);");
    w.close();
  }

  /// Consumers, before the kernel exits: the staged stores still in flight complete.
  void drainStagedStores() {
    if (p.staged)
      w.line("if (warpgroup::thread_index() == 0) tma_store_wait<0>(); // the last TMA store has completed");
  }

  void emitLoad(LoadOp load) override {
    const int b = p.bufferOfLoad.lookup(load);
    w.comment(where(load) + ": " + r.tensorOf(load.getSource()).sig.name + " tile -> " + p.smem[b].name +
              " (TMA, issued by the producer)");
  }

  void emitMatmul(MatmulOp mm) override {
    Value a = mm.getLhs(), bv = mm.getRhs();
    const int rb = p.bufferOf(bv);
    if (r.tile(bv).cls != TileClass::Smem || rb < 0)
      fail(mm, "the B operand of wgmma must be a shared tile (blk.load into smem)");
    auto aType = cast<TileType>(a.getType()), bType = cast<TileType>(bv.getType());
    const int64_t k = aType.getDimSize(1);
    const std::string d = storage(mm.getResult());
    const std::string T = elemType(bType.getElementType());
    ensureReady(rb);
    declare(mm.getResult());
    if (mm.getTransposeB()) {
      // S = Q K^T: Q from shared memory (wgmma SS), or from registers with q = registers (RS; Plan.h hoisted,
      // loaded before the K/V loop by hoistedLoad).
      const bool rs = p.hoisted.count(a) != 0;
      const int lb = p.bufferOf(a);
      if (!rs && (lb < 0 || r.tile(a).cls != TileClass::Smem || p.smem[lb].loop || p.smem[lb].rows != r.blockM))
        fail(mm, "the sm90 backend computes A B^T with A a shared tile of BLOCK_M rows loaded before the K/V loop "
                 "(Q of S = Q K^T)");
      if (!rs)
        ensureReady(lb);
      const std::string n = str(bType.getDimSize(0));
      w.comment(where(mm) + ": " + d + (mm.getAcc() ? " += " : " = ") + (rs ? storage(a) : p.smem[lb].name) + " * " +
                p.smem[rb].name + "^T (wgmma " + (rs ? "RS" : "SS") + " m64n" + n + "k16, " +
                (rs ? "Q from registers)" : "this warpgroup's 64 rows)"));
      if (mm.getAcc() && storage(mm.getAcc()) != d)
        w.line(d + " = " + storage(mm.getAcc()) + ";");
      const bool turn = turns && curLoop;
      const bool late = intra && curLoop;
      if (late) {
        waitDeferred("a P V that no op of the last iteration waited for");
        if (turn)
          w.line("named_barrier_sync<256>(turn_bar); // this warpgroup's turn at the tensor cores");
      }
      const std::string args = rs ? "<" + T + ", " + n + ", " + str(k) + (mm.getAcc() ? ", true" : "") + ">(" + d +
                                        ", " + storage(a) + ", " + tileRef(rb) + ");"
                                  : "<" + T + ", " + str(p.smem[lb].rows) + ", " + n + ", " + str(k) +
                                        (mm.getAcc() ? ", true" : "") + ">(" + d + ", " + tileRef(lb) + ", wg_row0, " +
                                        tileRef(rb) + ");";
      w.line("warpgroup::mma_ABt" + std::string(turn || late ? "_async" : "") + args);
      if (late) {
        issueDeferred("the last tile, in flight through this S's softmax");
        if (turn)
          w.line("named_barrier_arrive<256>(next_bar); // the tensor cores are the next warpgroup's");
        w.line("warpgroup::mma_wait<1>(" + d + "); // this S (its P V group may still be running)");
      } else if (turn) {
        w.line("named_barrier_arrive<256>(next_bar); // the tensor cores are the next warpgroup's");
        w.line("warpgroup::mma_wait<0>(" + accList(d) + "); // this S and the last P V");
        releasePending();
      }
    } else {
      if (r.tile(a).cls != TileClass::Fragment)
        fail(mm, "the sm90 backend computes A B with A a register tile (P of O += P V)");
      w.comment(where(mm) + ": " + d + (mm.getAcc() ? " += " : " = ") + storage(a) + " * " + p.smem[rb].name +
                " (wgmma RS m64n" + str(bType.getDimSize(1)) + "k16, A from registers)");
      if (mm.getAcc()) {
        if (storage(mm.getAcc()) != d)
          w.line(d + " = " + storage(mm.getAcc()) + ";");
      } else {
        w.line("warp::zero(" + d + ");");
      }
      if (intra && curLoop) {
        w.line("p_late = " + storage(a) + "; // P_j: times V_j once the next S is issued");
        const std::string i = str(p.smem[rb].loadIndex);
        w.line("late" + i + " = " + slotOf(rb) + "; released" + i + " = true; // handed back after that product");
        return;
      }
      if (turns && curLoop) {
        if (!mm.getAcc() || storage(mm.getAcc()) != d || !llvm::is_contained(loopAccs, d))
          fail(mm, "overlap = pingpong accumulates O += P V in place in a carried accumulator of the K/V loop (use "
                   "overlap = none)");
        w.line("named_barrier_sync<256>(turn_bar); // this warpgroup's turn at the tensor cores");
        w.line("warpgroup::mma_AB_async<" + T + ", " + str(k) + ", " + str(bType.getDimSize(1)) + ">(" + d + ", " +
               storage(a) + ", " + tileRef(rb) + "); // waited for with the next S");
        const std::string i = str(p.smem[rb].loadIndex);
        w.line("pending" + i + " = " + slotOf(rb) + "; released" + i + " = true; // handed back after the wait");
        return;
      }
      w.line("warpgroup::mma_AB<" + T + ", " + str(k) + ", " + str(bType.getDimSize(1)) + ">(" + d + ", " + storage(a) +
             ", " + tileRef(rb) + ");");
    }
    releaseAfterLastRead(mm, rb);
  }

  /// When `mm` is the only reader of its loop tile (the usual K and V), hands the slot back right after
  /// the product (its wgmma have completed), so the producer refills it while the softmax runs; the end
  /// of the iteration then skips it (released<i>).
  void releaseAfterLastRead(MatmulOp mm, int b) {
    const SmemBuffer &buf = p.smem[b];
    if (!curLoop || buf.loop != curLoop->op || !mm.getRhs().hasOneUse() || !mm.getRhs().getDefiningOp<LoadOp>())
      return;
    const std::string i = str(buf.loadIndex);
    w.line(ringRelease(emptyBar(b, "slot" + i)) + " // " + buf.name + " read: the producer may refill the slot");
    w.line("released" + i + " = true;");
  }

  void emitLoop(scf::ForOp loop) override {
    const LoopPlan &lp = *p.loopPlan(loop);
    w.line();
    w.comment("K/V loop (" + where(loop) + "): BLOCK_N = " + str(lp.step) + ", tiles from the producer's ring of " +
              str(lp.stages) + " slots");
    std::vector<std::string> vars = carriedVars(loop);
    const std::pair<std::string, std::string> bounds = loopBounds(lp);
    // Tiles loaded once and read in the loop: wait before it.
    for (const SmemBuffer &b : p.smem)
      if (!b.loop)
        for (LoadOp l : b.loads)
          for (Operation *u : l.getResult().getUsers())
            if (loop->isAncestor(u))
              ensureReady(static_cast<int>(&b - p.smem.data()));
    releaseIfAllHoisted(loadHoisted(loop));
    const bool ownTurns = turns && !lp.loads.empty(), late = intra && !lp.loads.empty();
    if (ownTurns || late) {
      loopAccs.clear();
      for (unsigned k = 0; k < loop.getNumRegionIterArgs(); ++k) {
        auto t = dyn_cast<TileType>(loop.getRegionIterArgs()[k].getType());
        if (t && t.getElementType().isF32() && r.tile(loop.getRegionIterArgs()[k]).cls == TileClass::Fragment)
          loopAccs.push_back(vars[k]);
      }
      for (int i : pvBuffers)
        w.line("int pending" + str(i) + " = -1; // the slot of " + p.smem[bufferOfLoadIndex(i)].name +
               " the last P V (still in flight) reads");
      if (late) {
        w.line("int late" + str(p.smem[deferred.vBuffer].loadIndex) + " = -1; // the slot of " +
               p.smem[deferred.vBuffer].name + " the P V not yet issued reads (intra-warpgroup overlap)");
        w.line(deferred.pType + " p_late; // its P");
      } else {
        w.line("named_barrier_sync<256>(turn_bar); // the first turn: S = Q K^T of the first tile");
      }
    }
    w.open("for (int it = 0; it < " + bounds.second + "; ++it)");
    const std::string iv = sx.fresh(r.scalarNames.lookup(loop.getInductionVar()));
    w.line("const long long " + iv + " = " + ivAt(bounds.first, "it", lp.step) + ";");
    sx.bind(loop.getInductionVar(), iv);
    const std::string S = str(lp.stages);
    for (size_t i = 0; i < lp.loads.size(); ++i) {
      w.line("const int slot" + str(i) + " = consumed" + str(i) + " % " + S + ";");
      w.line("const unsigned phase" + str(i) + " = (consumed" + str(i) + " / " + S + ") & 1;");
      w.line("bool released" + str(i) + " = false; // slot handed back after its last read");
    }
    const LoopPlan *outer = curLoop;
    curLoop = &lp;
    emitBlock(*loop.getBody());
    w.comment("Hand the slots not yet handed back to the producer (the wgmma that read them have completed).");
    w.line("__syncwarp();");
    for (size_t i = 0; i < lp.loads.size(); ++i) {
      const PipelinedLoad &pl = lp.loads[i];
      const std::string cond = loadCondition(lp, pl, iv);
      w.open(cond.empty() ? std::string("") : "if (" + cond + ")");
      w.open("if (!released" + str(i) + ")");
      w.line("mbarrier_wait(" + fullBar(pl.buffer, "slot" + str(i)) + ", phase" + str(i) +
             "); // keeps the ring's phases in step when the tile was not read");
      w.line(ringRelease(emptyBar(pl.buffer, "slot" + str(i))));
      w.close();
      w.line("++consumed" + str(i) + ";");
      w.close();
    }
    std::vector<std::string> src;
    for (Value v : loop.getBody()->getTerminator()->getOperands())
      src.push_back(valueRef(v));
    parallelCopy(vars, src);
    w.close();
    curLoop = outer;
    if (late) {
      waitDeferred("a P V that no op of the last iteration waited for");
      // The last P V: issued, committed and waited for inside one branch (when the issue alone is
      // conditional, ptxas serializes every wgmma of the kernel: C7515).
      if (ownTurns)
        w.line("named_barrier_sync<256>(turn_bar); // the last turn: the last P V");
      const SmemBuffer &v = p.smem[deferred.vBuffer];
      w.open("if (" + lateVar() + " >= 0)");
      deferredProduct(true, "the last tile");
      if (ownTurns)
        w.line("named_barrier_arrive<256>(next_bar); // the end of the last turn");
      w.line("warpgroup::mma_wait<0>(" + accList("") + ");");
      w.line(ringRelease(emptyBar(deferred.vBuffer, lateVar())) + " // " + v.name + " read: the producer may refill "
             "the slot");
      w.line(lateVar() + " = -1;");
      if (ownTurns) {
        w.orElse();
        w.line("named_barrier_arrive<256>(next_bar); // the end of the last turn");
      }
      w.close();
    } else if (ownTurns) {
      w.line("named_barrier_arrive<256>(next_bar); // the end of the last turn");
      w.line("warpgroup::mma_wait<0>(" + accList("") + "); // the last P V");
      releasePending();
    }
    // Persistent: when the tiles loaded once are read only in this loop, hand them back now, so the
    // producer loads the next tile's while this one's epilogue runs.
    if (persistent && !qReleased && !lp.loads.empty()) {
      bool onlyHere = true;
      for (const SmemBuffer &b : p.smem)
        if (!b.loop)
          for (LoadOp l : b.loads)
            for (Operation *u : l.getResult().getUsers())
              onlyHere = onlyHere && loop->isAncestor(u);
      if (onlyHere)
        releaseOnceLoaded("read only in the K/V loop, which has finished");
    }
  }

  const int consumers;            ///< consumer warpgroups: BLOCK_M / 64
  const int cluster;              ///< blocks per cluster along x (Schedule::cluster)
  const bool persistent = p.schedule.persistent; ///< persistent grid (Schedule::persistent)
  const bool paired = p.schedule.qTileOrder == QTileOrder::Paired; ///< persistent: Q tiles dealt in pairs
  const bool snake = p.schedule.qTileOrder == QTileOrder::Snake; ///< persistent: rounds dealt back and forth
  const bool dynamic = p.schedule.dynamicTiles(); ///< persistent: tiles claimed from a counter (tile_handoff)
  const bool turns = takesTurns(p.schedule.overlap); ///< consumers take turns (FA3 Sec. 3.1)
  const bool intra = overlapsWithinWarpgroup(p.schedule.overlap); ///< P V one iteration late (FA3 Sec. 3.2)
  /// overlap = intra: the O += P V issued one iteration late (checkDeferrable).
  struct DeferredProduct {
    std::string acc, pType;
    int vBuffer = -1;
    std::string T;
    int64_t k = 0, n = 0;
  } deferred;
  std::set<Block *> waitedIn; ///< overlap = intra: blocks that already wait for the P V before touching O
  std::set<int> pvBuffers;        ///< pingpong: load indices of the rings O += P V reads (released one S later)
  std::vector<std::string> loopAccs; ///< pingpong: the K/V loop's carried f32 accumulators (in flight after P V)
  bool qReleased = false;         ///< persistent: the consumers' release of the once-loaded tiles is emitted
  std::map<int, int> barOf;       ///< buffer -> index of its first mbarrier
  std::set<int> waitedOnce;       ///< tiles loaded once whose barrier this thread has waited for
};

} // namespace

std::string emitKernelSm90(const ResolvedKernel &r, const KernelPlan &p, const ParamLayout &params) {
  return Sm90Emitter(r, p, params).run();
}

std::size_t sm90DynamicSmemBytes(const KernelPlan &p) {
  // A dynamic tile scheduler's hand-off (tile_handoff): 2 mbarriers and an int32 slot.
  const std::size_t handoff = p.schedule.dynamicTiles() ? 24 : 0;
  return 1024 + p.smemBytes + 8 * static_cast<std::size_t>(barrierCountOf(p)) + handoff;
}

} // namespace tilefuse::codegen
