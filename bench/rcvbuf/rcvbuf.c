/*
 * LD_PRELOAD shim for bench section 10: gives every UDP socket the process opens a receive buffer of
 * RCVBUF_BYTES (SO_RCVBUFFORCE as root, past net.core.rmem_max; SO_RCVBUF otherwise), so a bench run
 * measures larger buffers without changing the host's net.core settings for anything else.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol) {
  static int (*real_socket)(int, int, int);
  if (!real_socket) real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
  int fd = real_socket(domain, type, protocol);
  const char *bytes = getenv("RCVBUF_BYTES");
  if (fd >= 0 && bytes && (type & 0xff) == SOCK_DGRAM) {
    int size = atoi(bytes);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  return fd;
}
