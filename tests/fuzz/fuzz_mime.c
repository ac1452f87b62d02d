/* fuzz_mime.c — libFuzzer target: the whole MIME → indicators path. The
 * input is a raw message; it is parsed with GMime under the default limits
 * and, when it parses, analysed (links from the text and from libxml2's
 * reading of the HTML, hosts through libpsl and libidn2, senders,
 * attachments, wording) and turned into the model's features. */
#include <stdint.h>
#include <stdlib.h>

#include "phish.h"
#include "textmodel.h"

static rk_phish_cfg_t *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (!cfg) {
        static const char *const prot[] = { "paypal.com", "microsoft.com", "apple.com", "example-bank.co.uk", NULL };
        static const char *const shorts[] = { "bit.ly", NULL };
        if (!(cfg = rk_phish_cfg_new(prot, shorts, err, sizeof err))) abort();
    }
    rk_phish_msg_t m;
    if (rk_phish_parse((const char *)data, size, NULL, &m, err, sizeof err) == 0) {
        rk_phish_result_t r;
        if (rk_phish_analyze(cfg, &m, &r, err, sizeof err) == 0) {
            float d[RK_PHISH_NDENSE];
            rk_phish_dense(&r, d);
            rk_tm_vec_t v = { 0 };
            rk_tm_featurize(r.body_text, d, RK_PHISH_NDENSE, &v);
            rk_tm_vec_free(&v);
        }
        rk_phish_result_free(&r);
    }
    rk_phish_msg_free(&m);
    return 0;
}
