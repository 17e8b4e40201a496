/* SPDX-License-Identifier: MIT */
/* deflate: permessage-deflate (RFC 7692) for the ws engine, on zlib:
 * negotiation of the extension parameters, compression of outgoing
 * messages and streaming inflation of incoming ones. Inflated sizes go
 * through the engine's --max-message check, so a deflate bomb is stopped
 * without its size ever being allocated. No I/O. */
#ifndef WSC_DEFLATE_H
#define WSC_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>

struct ws_conn;

/* Negotiated parameters, named from the side that compresses. */
struct ws_deflate_params {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    unsigned server_max_window_bits; /* 8..15; 15 when absent */
    unsigned client_max_window_bits; /* 8..15; 15 when absent */
};

/* What a client offers in Sec-WebSocket-Extensions. */
#define WS_DEFLATE_OFFER "permessage-deflate; client_max_window_bits"

/* Client side: parses the server's Sec-WebSocket-Extensions value (NULL when
 * the header is absent). offered says whether our request carried
 * WS_DEFLATE_OFFER; without it any extension in the response is refused
 * (RFC 6455 9.1). Returns 0 with *accepted set and p filled when the server
 * accepted permessage-deflate, 0 with !*accepted when the value is empty,
 * -1 with a one-line reason in err when the response must fail the
 * connection: malformed, an extension we did not offer, more than one, or a
 * parameter that is unknown, repeated or out of range (RFC 7692 7). */
int ws_deflate_parse_response(const char *value, bool offered, struct ws_deflate_params *p,
                              bool *accepted, char *err, size_t errlen);

/* Server side: picks the first acceptable permessage-deflate offer in a
 * Sec-WebSocket-Extensions value (NULL when absent), skipping other
 * extensions and offers with bad parameters; fills p and writes the response
 * value into resp. Returns 1 when one was accepted, 0 when none was offered
 * or acceptable, or resp is too small (then p is untouched). A requested
 * server_max_window_bits of 8 is granted; such messages then go out
 * uncompressed, since zlib cannot deflate with a 256-byte window. */
int ws_deflate_accept_offer(const char *value, struct ws_deflate_params *p, char *resp,
                            size_t resplen);

/* Turns the extension on for c; is_client says which parameters apply to
 * which direction. Returns -1 when zlib cannot be initialised or c already
 * has the extension. Incoming messages always inflate with a 32 KiB window
 * (a larger window than negotiated decodes the same data); when our own
 * window must be 8, our messages go out uncompressed (RSV1 clear). */
int ws_deflate_enable(struct ws_conn *c, const struct ws_deflate_params *p, bool is_client);

/* Single-frame messages shorter than min_size are sent uncompressed (the
 * default, 0, compresses every message). */
void ws_deflate_set_min_size(struct ws_conn *c, size_t min_size);

/* Engine hooks (ws.c). ws_inflater_feed inflates through a fixed chunk
 * into ws_deliver, which applies --max-message to the inflated size;
 * ws_inflater_finish appends RFC 7692 7.2.2's 00 00 FF FF tail. Invalid
 * data fails c with 1007. ws_deflate_frame sends one frame of a message
 * (RSV1 on the first only) and resets the context after it when our side
 * has no_context_takeover. */
struct ws_inflater;
struct ws_deflater;
void ws_inflater_free(struct ws_inflater *in);
void ws_deflater_free(struct ws_deflater *d);
void ws_inflater_begin(struct ws_inflater *in);
int ws_inflater_feed(struct ws_conn *c, const unsigned char *p, size_t len);
int ws_inflater_finish(struct ws_conn *c);
int ws_deflate_frame(struct ws_conn *c, int op, bool is_first, bool is_final, const void *p,
                     size_t len);
/* Statistics for traces: payload sizes on the wire and inflated of the last
 * compressed message in one direction; zeros until there is one. */
void ws_deflate_last_sizes(const struct ws_conn *c, bool is_outgoing, unsigned long long *wire,
                           unsigned long long *plain);

#endif
