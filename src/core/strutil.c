/*
 * String helpers: an edit distance for "did you mean" suggestions.
 * Keys and preset names are short, so the O(len^2) table is cheap.
 */
#include <string.h>

#include "ultrasim/core.h"

#define USIM_EDIT_MAX 64

int usim_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[USIM_EDIT_MAX + 1];
    if (la > USIM_EDIT_MAX || lb > USIM_EDIT_MAX)
        return USIM_EDIT_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *usim_closest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    for (size_t i = 0; i < n; i++) {
        int d = usim_edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    /* Suggest only what is plausibly a typo: at most a third of the word wrong. */
    size_t len = strlen(word);
    int limit = len < 6 ? 2 : (int)(len / 3) + 1;
    return best_d <= limit ? best : NULL;
}
