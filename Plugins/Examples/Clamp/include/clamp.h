/* The clamp example plugin exports normd_stage_plugin_entry and normd_stage_plugin_host (see normd_stage.h). */
#ifndef CLAMP_H
#define CLAMP_H
#include "normd_stage.h"
#endif
