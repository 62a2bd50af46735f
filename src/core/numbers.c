/*
 * Small arithmetic on counts that several layers share.
 */
#include "ultrasim/core.h"

int64_t usim_gcd(int64_t a, int64_t b)
{
    while (b != 0) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}
