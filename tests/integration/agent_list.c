/* agent_list: prints the comment of each identity the ssh agent at
 * $SSH_AUTH_SOCK holds, one a line (the agent protocol's
 * SSH2_AGENTC_REQUEST_IDENTITIES), like `ssh-add -l` in an image with no
 * ssh client. Built static by cli_parity_test.sh to run in a busybox RUN. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int read_full(int fd, unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int main(void) {
  const char *path = getenv("SSH_AUTH_SOCK");
  if (!path || !*path) { fprintf(stderr, "agent_list: SSH_AUTH_SOCK is not set\n"); return 2; }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) { perror("agent_list: connect"); return 2; }
  const unsigned char request[5] = {0, 0, 0, 1, 11};
  if (write(fd, request, sizeof(request)) != (ssize_t)sizeof(request)) { perror("agent_list: write"); return 2; }
  unsigned char head[4];
  if (read_full(fd, head, 4) != 0) { fprintf(stderr, "agent_list: no answer\n"); return 2; }
  uint32_t len = be32(head);
  if (len < 5 || len > (1u << 20)) { fprintf(stderr, "agent_list: bad answer length %u\n", len); return 2; }
  unsigned char *msg = malloc(len);
  if (!msg || read_full(fd, msg, len) != 0 || msg[0] != 12) { fprintf(stderr, "agent_list: not an identities answer\n"); return 2; }
  uint32_t n = be32(msg + 1), off = 5;
  for (uint32_t i = 0; i < n; ++i) {
    for (int field = 0; field < 2; ++field) {
      if (off + 4 > len) { fprintf(stderr, "agent_list: truncated answer\n"); return 2; }
      uint32_t flen = be32(msg + off);
      off += 4;
      if (off + flen > len) { fprintf(stderr, "agent_list: truncated answer\n"); return 2; }
      if (field == 1) printf("%.*s\n", (int)flen, (const char *)msg + off);
      off += flen;
    }
  }
  return 0;
}
