/*
 * LD_PRELOAD shim for the chaos run: braft's atomic_server dials its peers at the addresses of
 * its configuration and has no option to dial them elsewhere, so this wraps libc's connect() and
 * sends a connection for 127.0.0.1:<port> to 127.0.0.1:<proxy port> instead, the way tsraft's
 * atomic server does with --proxy_map. The table comes from the environment:
 *
 *   TSRAFT_CONNECT_MAP=<port>=<proxy port>,<port>=<proxy port>,...
 *
 * Anything else (other hosts, other ports, IPv6) goes through unchanged.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Five nodes need four entries each; the bound leaves room for larger runs. */
#define REDIRECTS_MAX 64

struct redirect {
    unsigned short from_port;
    unsigned short to_port;
};

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static struct redirect redirects[REDIRECTS_MAX];
static int redirect_count;
static connect_fn real_connect;

/* Parsed once, before main() and before any thread exists, so connect() only reads the table. */
__attribute__((constructor)) static void load_redirects(void) {
    real_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
    const char *text = getenv("TSRAFT_CONNECT_MAP");
    while (text != NULL && *text != '\0' && redirect_count < REDIRECTS_MAX) {
        char *end = NULL;
        unsigned long from = strtoul(text, &end, 10);
        if (end == text || *end != '=') break;
        text = end + 1;
        unsigned long to = strtoul(text, &end, 10);
        if (end == text || from == 0 || from > 65535 || to == 0 || to > 65535) break;
        redirects[redirect_count].from_port = (unsigned short)from;
        redirects[redirect_count].to_port = (unsigned short)to;
        redirect_count++;
        text = *end == ',' ? end + 1 : end;
    }
}

int connect(int fd, const struct sockaddr *address, socklen_t length) {
    /* Another library's constructor may connect before ours ran: find libc's connect then. */
    if (real_connect == NULL) real_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
    if (address != NULL && address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in target;
        memcpy(&target, address, sizeof target);
        if (target.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
            unsigned short port = ntohs(target.sin_port);
            for (int i = 0; i < redirect_count; i++) {
                if (redirects[i].from_port != port) continue;
                target.sin_port = htons(redirects[i].to_port);
                return real_connect(fd, (const struct sockaddr *)&target, sizeof target);
            }
        }
    }
    return real_connect(fd, address, length);
}
