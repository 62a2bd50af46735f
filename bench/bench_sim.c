/*
 * Simulation speed at scale: one training step of Llama 3.1 405B on 16,384
 * and 131,072 Trn2 UltraServer chips, the plan search for 405B on 16,384
 * chips, 100,000 requests through in-flight batching (trtllm's), and the serving
 * deployment search for Llama 3.3 70B on 64 H100s. Wall time of
 * each (best of three) and the process's peak resident memory.
 */
#include "bench_run.h"

int main(void)
{
    run("train 405B, 16,384 trn2u chips, TP 64 PP 16",
        "{\"command\": \"train\", \"model\": \"llama3.1-405b\", \"hw\": \"trn2u.48xlarge\", "
        "\"chips\": 16384, \"tp\": 64, \"pp\": 16, \"gbs\": 2048, \"seq\": 8192}",
        3);
    run("train 405B, 131,072 trn2u chips, TP 64 PP 16",
        "{\"command\": \"train\", \"model\": \"llama3.1-405b\", \"hw\": \"trn2u.48xlarge\", "
        "\"chips\": 131072, \"tp\": 64, \"pp\": 16, \"gbs\": 16384, \"seq\": 8192}",
        3);
    run("train 405B, 16,384 H100, TP 8 PP 16 VP 4",
        "{\"command\": \"train\", \"model\": \"llama3.1-405b\", \"hw\": \"dgx-h100\", "
        "\"chips\": 16384, \"tp\": 8, \"pp\": 16, \"vp\": 4, \"gbs\": 2048, \"seq\": 8192}",
        3);
    run("serve 100,000 requests, in-flight batching, llama3-8b",
        "{\"command\": \"serve\", \"model\": \"llama3-8b\", \"hw\": \"dgx-h100\", \"tp\": 1, "
        "\"batch\": 256, \"mode\": \"offline\", \"requests\": 100000, \"isl\": 512, \"osl\": 128, "
        "\"isl-spread\": 0.5, \"osl-spread\": 0.5}",
        1);
    run("plan search 405B, 16,384 trn2u chips (all cores)",
        "{\"command\": \"plan\", \"model\": \"llama3.1-405b\", \"hw\": \"trn2u.48xlarge\", "
        "\"chips\": 16384, \"gbs\": 2048, \"seq\": 8192}",
        1);
    run("plan --serve 70B, 64 H100, ISL 2048 OSL 256, TTFT 1 s TPOT 50 ms",
        "{\"command\": \"plan\", \"serve\": true, \"model\": \"llama3.3-70b\", \"hw\": "
        "\"dgx-h100\", \"chips\": 64, \"isl\": 2048, \"osl\": 256, \"slo-ttft\": \"1s\", "
        "\"slo-tpot\": \"50ms\"}",
        1);
    return 0;
}
