/* The robust_scale example plugin exports only normd_stage_plugin_entry (see normd_stage.h). */
#ifndef ROBUST_SCALE_H
#define ROBUST_SCALE_H
#include "normd_stage.h"
#endif
