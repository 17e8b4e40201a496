/* SPDX-License-Identifier: MIT */
/*
 * floor.c: the least a WebSocket client built on OpenSSL must do, as a raw-TCP client.
 *
 * The latency workload compares wsc with nc. This program shows how much of the gap no
 * client can close while it takes its SHA-1 from OpenSSL: built with -DWITH_OPENSSL it
 * links libcrypto and makes the calls every RFC 6455 client handshake needs (16 random
 * bytes for Sec-WebSocket-Key, their base64, the SHA-1 that checks Sec-WebSocket-Accept)
 * the way wsc makes them for ws://: the bytes from getrandom(2), OpenSSL set up without
 * its configuration file and cipher tables. With -DWITH_OPENSSL_DEFAULT it makes them
 * the way wsc 0.1.0 did: RAND_bytes, and OpenSSL's default set-up. Then it does nc -N's
 * exchange: stdin to the socket, shut down the write side, the socket to stdout until
 * EOF. Built without either, it is that exchange alone, which should cost what nc costs.
 *
 *   floor PORT          (127.0.0.1 only)
 *
 * Build: cc -O2 -std=c11 -D_DEFAULT_SOURCE [-DWITH_OPENSSL[_DEFAULT] ... -lcrypto] floor.c
 *        -o floor
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(WITH_OPENSSL) || defined(WITH_OPENSSL_DEFAULT)
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/random.h>

static void handshake_crypto(void)
{
    unsigned char nonce[16], key[32], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
#ifdef WITH_OPENSSL_DEFAULT
    if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        errx(1, "RAND_bytes failed");
#else
    if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                                OPENSSL_INIT_NO_ADD_ALL_DIGESTS | OPENSSL_INIT_NO_ATEXIT,
                            NULL) != 1)
        errx(1, "OPENSSL_init_crypto failed");
    if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        err(1, "getrandom");
#endif
    int keylen = EVP_EncodeBlock(key, nonce, sizeof(nonce));
    if (EVP_Digest(key, (size_t)keylen, md, &mdlen, EVP_sha1(), NULL) != 1)
        errx(1, "SHA-1 failed");
}
#else
static void handshake_crypto(void) {}
#endif

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            err(1, "write");
        p += w;
        n -= (size_t)w;
    }
}

/* Copy from one descriptor to the other until EOF. */
static void copy(int from, int to)
{
    static char buf[1 << 16];
    for (;;) {
        ssize_t r = read(from, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err(1, "read");
        if (r == 0)
            return;
        write_all(to, buf, (size_t)r);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2)
        errx(2, "usage: floor PORT");
    handshake_crypto();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
        err(1, "connect");
    /* The whole of stdin goes first, as with nc -N: the workloads that use this are small. */
    copy(0, fd);
    if (shutdown(fd, SHUT_WR) != 0)
        err(1, "shutdown");
    copy(fd, 1);
    return 0;
}
