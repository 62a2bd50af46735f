/* `plan --serve`: deployments searched under a latency SLA (serve_plan.c). */
#ifndef USIM_API_SERVE_PLAN_H
#define USIM_API_SERVE_PLAN_H

#include "api/api.h"

/* Searches the serving deployments the request (plan's options) allows. */
usim_status api_serve_plan(const usim_command *cmd, json_t *req, json_t **result,
                           usim_error *err);
usim_status api_serve_plan_render(json_t *res, usim_buf *b, usim_error *err);

#endif
