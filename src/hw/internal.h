/* hw layer internals: the schema tables (schema.c) and defaults (load.c). */
#ifndef USIM_HW_INTERNAL_H
#define USIM_HW_INTERNAL_H

#include "core/schema.h"
#include "ultrasim/hw.h"

extern const usim_schema hw_chip_schema;
extern const usim_schema hw_system_schema;
extern const usim_schema hw_network_schema;

#endif
