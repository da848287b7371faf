// set_xattr FILE NAME HEX: sets the xattr NAME of FILE (not followed) to the
// bytes HEX spells, as setcap or setfattr would; static, so a RUN in a
// busybox image can run it. isolation_levels_test.sh builds it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

int main(int argc, char** argv) {
  if (argc != 4 || strlen(argv[3]) % 2 != 0) {
    fprintf(stderr, "usage: set_xattr FILE NAME HEX\n");
    return 2;
  }
  size_t n = strlen(argv[3]) / 2;
  unsigned char value[256];
  if (n > sizeof value) return 2;
  for (size_t i = 0; i < n; ++i) {
    char byte[3] = {argv[3][2 * i], argv[3][2 * i + 1], 0};
    value[i] = (unsigned char)strtoul(byte, NULL, 16);
  }
  if (lsetxattr(argv[1], argv[2], value, n, 0) != 0) {
    perror("set_xattr: lsetxattr");
    return 1;
  }
  return 0;
}
