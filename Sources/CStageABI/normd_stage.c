/* CStageABI is header-only (include/normd_stage.h); SwiftPM needs one source file per C target. */
#include "normd_stage.h"
