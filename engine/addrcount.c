/* addrcount.c — see addrcount.h. A chained hash under one mutex: taken
 * twice per connection (open, close), not per request. */
#include "addrcount.h"
#include "hash.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NSLOTS 4096

typedef struct node {
    struct node *next;
    int n;
    char addr[];
} node_t;

struct rk_addrcount {
    pthread_mutex_t mu;
    int max;
    node_t *slots[NSLOTS];
};

rk_addrcount_t *rk_addrcount_new(int max_per_address)
{
    rk_addrcount_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->max = max_per_address;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void rk_addrcount_free(rk_addrcount_t *c)
{
    if (!c) return;
    for (int i = 0; i < NSLOTS; i++)
        for (node_t *n = c->slots[i], *next; n; n = next) { next = n->next; free(n); }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static node_t **slot_of(rk_addrcount_t *c, const char *addr)
{
    return &c->slots[rk_fnv1a_str(RK_FNV_OFFSET, addr) % NSLOTS];
}

int rk_addrcount_acquire(rk_addrcount_t *c, const char *addr)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    node_t **head = slot_of(c, addr), *n = *head;
    while (n && strcmp(n->addr, addr) != 0) n = n->next;
    if (!n) {
        size_t len = strlen(addr) + 1;
        n = malloc(sizeof *n + len);
        if (n) {
            n->n = 0;
            memcpy(n->addr, addr, len);
            n->next = *head;
            *head = n;
        }
    }
    if (!n || n->n >= c->max) rc = -1;
    else n->n++;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void rk_addrcount_release(rk_addrcount_t *c, const char *addr)
{
    pthread_mutex_lock(&c->mu);
    for (node_t **p = slot_of(c, addr); *p; p = &(*p)->next) {
        if (strcmp((*p)->addr, addr) != 0) continue;
        if (--(*p)->n <= 0) { node_t *n = *p; *p = n->next; free(n); }
        break;
    }
    pthread_mutex_unlock(&c->mu);
}

int rk_addrcount_get(rk_addrcount_t *c, const char *addr)
{
    int n = 0;
    pthread_mutex_lock(&c->mu);
    for (node_t *e = *slot_of(c, addr); e; e = e->next)
        if (strcmp(e->addr, addr) == 0) { n = e->n; break; }
    pthread_mutex_unlock(&c->mu);
    return n;
}
