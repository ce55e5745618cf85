/*
 * The callback worker: one thread per process delivers every client callback, serialised across
 * sessions, as libocdm's single COM-RPC inbound thread does. Operations queue callbacks and then
 * (for update/construct/load/remove/...) wait for a fence queued behind them, so the callbacks
 * they trigger have run before they return. No lock is held while a callback runs.
 */
#define _POSIX_C_SOURCE 200809L /* strict -std=c11: expose POSIX declarations */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refcdm.h"

typedef enum { J_CHALLENGE, J_KEY, J_ERROR, J_KEYS_UPDATED, J_FENCE } rc_jkind;

typedef struct rc_job {
    struct rc_job* next;
    rc_jkind kind;
    struct OpenCDMSession* s;
    char* text; /* url or error message */
    uint8_t* data;
    uint16_t len;
    rc_kid kid;
    int* done;
} rc_job;

static rc_job *q_head, *q_tail;
static unsigned q_pending;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static pthread_t g_worker;
static int g_running, g_stopping, g_exited;
static pthread_mutex_t g_stop_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int tl_worker;

int rc_on_worker(void) {
    return tl_worker;
}

static void job_free(rc_job* j) {
    free(j->text);
    free(j->data);
    free(j);
}

static void deliver(rc_job* j, OpenCDMSessionCallbacks* cb, void* ud) {
    struct OpenCDMSession* s = j->s;
    switch (j->kind) {
        case J_CHALLENGE:
            if (cb->process_challenge_callback)
                cb->process_challenge_callback(s, ud, j->text, j->data, j->len);
            break;
        case J_KEY:
            if (cb->key_update_callback) cb->key_update_callback(s, ud, j->kid.b, j->kid.len);
            break;
        case J_ERROR:
            if (cb->error_message_callback) cb->error_message_callback(s, ud, j->text);
            break;
        case J_KEYS_UPDATED:
            if (cb->keys_updated_callback) cb->keys_updated_callback(s, ud);
            break;
        default:
            break;
    }
}

static void* worker_main(void* arg) {
    (void)arg;
    tl_worker = 1;
    pthread_mutex_lock(&g_lock);
    for (;;) {
        while (!q_head && !g_stopping) pthread_cond_wait(&q_cond, &g_lock);
        if (!q_head) break;
        rc_job* j = q_head;
        q_head = j->next;
        if (!q_head) q_tail = NULL;
        if (j->kind == J_FENCE) {
            *j->done = 1;
            pthread_cond_broadcast(&done_cond);
            free(j);
            continue;
        }
        q_pending--;
        struct OpenCDMSession* s = j->s;
        int live = !s->dead;
        OpenCDMSessionCallbacks* cb = s->cbs;
        void* ud = s->ud;
        pthread_mutex_unlock(&g_lock);
        if (live && cb) deliver(j, cb, ud);
        job_free(j);
        rc_session_release(s);
        pthread_mutex_lock(&g_lock);
    }
    g_exited = 1;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

/* g_lock held. */
static int ensure_worker_locked(void) {
    if (g_running) return 0;
    /* The worker takes no signals (they belong to the application's threads); default stack
     * size, since callbacks may run deep interpreter code. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    g_exited = 0;
    int rc = pthread_create(&g_worker, NULL, worker_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) return -1;
    g_running = 1;
    return 0;
}

static void enqueue(rc_job* j) {
    pthread_mutex_lock(&g_lock);
    if (ensure_worker_locked()) { /* cannot deliver: drop (fences complete at once) */
        if (j->kind == J_FENCE) *j->done = 1;
        pthread_mutex_unlock(&g_lock);
        job_free(j);
        return;
    }
    if (j->s) j->s->refs++;
    if (j->kind != J_FENCE) q_pending++;
    j->next = NULL;
    if (q_tail) q_tail->next = j;
    else q_head = j;
    q_tail = j;
    pthread_cond_signal(&q_cond);
    pthread_mutex_unlock(&g_lock);
}

static rc_job* job_new(struct OpenCDMSession* s, rc_jkind kind) {
    rc_job* j = calloc(1, sizeof *j);
    if (j) {
        j->s = s;
        j->kind = kind;
    }
    return j;
}

void rc_post_challenge(struct OpenCDMSession* s, const char* url, const uint8_t* data, size_t len) {
    rc_job* j = job_new(s, J_CHALLENGE);
    if (!j) return;
    if (len > 0xFFFF) len = 0xFFFF; /* uint16 on the OCDM wire */
    j->text = strdup(url ? url : "");
    j->data = malloc(len ? len : 1);
    if (!j->text || !j->data) {
        job_free(j);
        return;
    }
    if (len) memcpy(j->data, data, len);
    j->len = (uint16_t)len;
    enqueue(j);
}

void rc_post_key_update(struct OpenCDMSession* s, const rc_kid* kid) {
    rc_job* j = job_new(s, J_KEY);
    if (!j) return;
    j->kid = *kid;
    enqueue(j);
}

void rc_post_error(struct OpenCDMSession* s, const char* msg) {
    rc_job* j = job_new(s, J_ERROR);
    if (!j) return;
    j->text = strdup(msg ? msg : "");
    if (!j->text) {
        job_free(j);
        return;
    }
    enqueue(j);
}

void rc_post_keys_updated(struct OpenCDMSession* s) {
    rc_job* j = job_new(s, J_KEYS_UPDATED);
    if (j) enqueue(j);
}

void rc_flush(void) {
    if (tl_worker) return; /* inside a callback: what we queued runs after it */
    int done = 0;
    rc_job* j = job_new(NULL, J_FENCE);
    if (!j) return;
    j->done = &done;
    enqueue(j);
    pthread_mutex_lock(&g_lock);
    while (!done) pthread_cond_wait(&done_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

void rc_drop_jobs_locked(struct OpenCDMSession* s) {
    rc_job** pp = &q_head;
    rc_job* prev = NULL;
    while (*pp) {
        rc_job* j = *pp;
        if (j->s == s && j->kind != J_FENCE) {
            *pp = j->next;
            if (q_tail == j) q_tail = prev;
            q_pending--;
            s->refs--;
            job_free(j);
        } else {
            prev = j;
            pp = &j->next;
        }
    }
}

unsigned rc_pending_locked(void) {
    return q_pending;
}

void rc_worker_stop(void) {
    if (tl_worker) return;
    pthread_mutex_lock(&g_stop_mu);
    pthread_mutex_lock(&g_lock);
    if (!g_running) {
        pthread_mutex_unlock(&g_lock);
        pthread_mutex_unlock(&g_stop_mu);
        return;
    }
    g_stopping = 1;
    pthread_cond_broadcast(&q_cond);
    pthread_t t = g_worker;
    pthread_mutex_unlock(&g_lock);
    pthread_join(t, NULL); /* the worker drains the queue before it exits */
    pthread_mutex_lock(&g_lock);
    g_running = 0;
    g_stopping = 0;
    if (q_head) ensure_worker_locked(); /* queued while it was stopping */
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&g_stop_mu);
}

void rc_worker_maybe_stop(void) {
    unsigned systems, sessions, pending;
    rc_stats(&systems, &sessions, &pending);
    if (systems == 0 && sessions == 0) rc_worker_stop();
}

/* fork(): the child has no worker thread. Take the locks across fork so the child does not
 * inherit them held, then reset the worker state there and drop the parent's queued callbacks
 * (and fences, whose waiters do not exist in the child); the next callback starts a new worker. */
static void atfork_prepare(void) {
    pthread_mutex_lock(&g_stop_mu);
    pthread_mutex_lock(&g_lock);
}

static void atfork_parent(void) {
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&g_stop_mu);
}

static void atfork_child(void) {
    rc_job* j = q_head;
    while (j) {
        rc_job* next = j->next;
        if (j->s) j->s->refs--;
        job_free(j);
        j = next;
    }
    q_head = q_tail = NULL;
    q_pending = 0;
    g_running = 0;
    g_stopping = 0;
    tl_worker = 0;
    /* The parent's threads may have been waiting on these: their state is meaningless here. */
    pthread_cond_init(&q_cond, NULL);
    pthread_cond_init(&done_cond, NULL);
    rc_registry_atfork_child();
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_unlock(&g_stop_mu);
}

__attribute__((constructor)) static void rc_load(void) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Process exit or dlclose(): stop the worker. If it is stuck inside a client callback (e.g. an
 * interpreter that no longer runs other threads during its own shutdown), give up after a bound
 * instead of hanging the exit. */
__attribute__((destructor)) static void rc_unload(void) {
    if (tl_worker) return;
    pthread_mutex_lock(&g_lock);
    if (!g_running) {
        pthread_mutex_unlock(&g_lock);
        return;
    }
    g_stopping = 1;
    pthread_cond_broadcast(&q_cond);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    int timed_out = 0;
    while (!g_exited && !timed_out)
        timed_out = pthread_cond_timedwait(&done_cond, &g_lock, &deadline) != 0;
    int exited = g_exited;
    pthread_t t = g_worker;
    pthread_mutex_unlock(&g_lock);
    if (exited) {
        pthread_join(t, NULL);
        pthread_mutex_lock(&g_lock);
        g_running = 0;
        g_stopping = 0;
        pthread_mutex_unlock(&g_lock);
    }
}
