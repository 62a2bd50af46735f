/* The table written by cmake/embed.cmake from data/ (internal). */
#ifndef USIM_CORE_EMBEDDED_H
#define USIM_CORE_EMBEDDED_H

#include "ultrasim/core.h"

extern const usim_embedded_file usim_embedded_files[];

#endif
