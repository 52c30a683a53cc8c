# lit configuration for Tilefuse's IR tests (tilefuse-opt + FileCheck).
import os
import lit.formats
from lit.llvm import llvm_config

config.name = "Tilefuse"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tilefuse_obj_root, "tests", "lit")
config.substitutions.append(("%specs", os.path.join(config.tilefuse_src_root, "specs")))

llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.tilefuse_tools_dir, append_path=True)
llvm_config.use_default_substitutions()
llvm_config.add_tool_substitutions(["tilefuse-opt", "tilefuse"], [config.tilefuse_tools_dir])
