# The kiln image, the drop-in for kaniko's executor image, built by kiln
# (scripts/build-kiln-image.sh makes the context: the Debian 12 base as a
# tar, and kiln's binary).
FROM scratch
# The Debian 12 minbase root made by debootstrap, with kiln's libraries and
# uidmap; ADD keeps its owners, modes and xattrs.
ADD bookworm.tar /
COPY kiln /usr/local/bin/kiln
# newuidmap/newgidmap with file capabilities instead of setuid root, as
# buildah's image has them: the setuid ones fail with EPERM for a non-root
# user in podman's default container, the file-capability ones work. (Under
# no_new_privs neither gains anything.)
RUN chmod 0755 /usr/bin/newuidmap /usr/bin/newgidmap \
 && setcap cap_setuid+ep /usr/bin/newuidmap \
 && setcap cap_setgid+ep /usr/bin/newgidmap
# The unprivileged build user, uid 1000, with 65536 subordinate ids; the
# store on a volume, so that it is a real directory (overlayfs refuses an
# overlay upper dir as its own upper) and can be cached between jobs.
RUN useradd -u 1000 -U -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 kiln \
 && echo kiln:100000:65536 >/etc/subuid \
 && echo kiln:100000:65536 >/etc/subgid \
 && mkdir -p /var/lib/kiln \
 && chown kiln:kiln /var/lib/kiln
ENV KILN_ROOT=/var/lib/kiln
VOLUME ["/var/lib/kiln"]
USER 1000
WORKDIR /home/kiln
CMD ["/bin/bash"]
