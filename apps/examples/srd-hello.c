/*
 * srd-hello — the smallest libsrd program: one side waits for a message and answers it,
 * the other sends "hello" and prints the answer.
 *
 *   srd-hello SOCKET                  wait on a new endpoint (prints its address)
 *   srd-hello SOCKET ADDRESS          send "hello" to ADDRESS ("10.77.0.2:1"), print the reply
 *
 * Builds with nothing but the public header and the library:
 *   cc srd-hello.c $(pkg-config --cflags --libs libsrd)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "srd.h"

/* Wait for one completion of the given kind; returns 0 or a negative errno. */
static int wait_for(struct srdc *h, enum srdc_kind kind, struct srdc_completion *c)
{
	for (;;) {
		int n = srdc_poll(h, c, 1);

		if (n < 0)
			return n;
		if (n == 1 && c->kind == kind)
			return c->status;
		if (n == 0) {
			int rc = srdc_wait(h, 5000);

			if (rc && rc != -ETIMEDOUT)
				return rc;
		}
	}
}

int main(int argc, char **argv)
{
	struct srdc_completion c;
	char addr[SRDC_ADDR_STRLEN];
	struct srdc_addr peer, me;
	struct srdc_ep *ep;
	struct srdc *h;
	int rc;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: srd-hello SOCKET [ADDRESS]\n");
		return 2;
	}
	rc = srdc_attach(argv[1], "srd-hello", &h);
	if (rc) {
		fprintf(stderr, "srd-hello: attach: %s\n", strerror(-rc));
		return 1;
	}
	rc = srdc_ep_open(h, 0, 0, &ep);
	if (rc)
		goto out;
	me = srdc_ep_addr(ep);
	srdc_addr_format(&me, addr, sizeof(addr));

	if (argc == 2) {
		/* server: answer one message with its length */
		printf("waiting on %s\n", addr);
		fflush(stdout);
		rc = wait_for(h, SRDC_RECV, &c);
		if (rc)
			goto out_ep;
		printf("got %zu bytes: %.*s\n", c.len, (int)c.len, (const char *)c.buf);
		char reply[64];
		int n = snprintf(reply, sizeof(reply), "%zu bytes received", c.len);
		struct srdc_iov iov = { reply, (size_t)n };

		srdc_recv_done(h, c.buf);
		rc = srdc_send(ep, &c.src, &iov, 1, 0, 0, NULL);
		if (rc == 0)
			rc = wait_for(h, SRDC_SEND, &c);
	} else {
		/* client: say hello, print the answer */
		struct srdc_iov iov = { "hello", 5 };

		rc = srdc_addr_parse(argv[2], &peer);
		if (rc)
			goto out_ep;
		rc = srdc_send(ep, &peer, &iov, 1, 0, 0, NULL);
		if (rc == 0)
			rc = wait_for(h, SRDC_SEND, &c);
		if (rc == 0)
			rc = wait_for(h, SRDC_RECV, &c);
		if (rc == 0) {
			printf("%s answered: %.*s\n", argv[2], (int)c.len, (const char *)c.buf);
			srdc_recv_done(h, c.buf);
		}
	}
out_ep:
	srdc_ep_close(ep);
out:
	if (rc)
		fprintf(stderr, "srd-hello: %s\n", strerror(-rc));
	srdc_detach(h);
	return rc ? 1 : 0;
}
