/*
 * fuzz_config — libFuzzer target for srdd's configuration loader: any file is loaded or
 * refused with a message naming the file; nothing crashes or leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dp_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dp_config cfg;
	char path[64], err[512] = "";
	int fd = memfd_create("srd-fuzz-config", MFD_CLOEXEC), rc;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = dp_config_load(path, &cfg, err, sizeof(err));
	if (rc == 0)
		dp_config_free(&cfg);
	else if (!strstr(err, path))
		abort(); /* a refusal names the file */
	close(fd);
	return 0;
}
