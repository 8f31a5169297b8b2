/*
 * attach_proto.h — the channel between `heapsight attach` (cli/attach.c,
 * cli/attach_chan.c) and the library's listener (prof/attach.c): where its
 * files are, what they hold, and the limits both sides check.  A pure
 * header (constants only): the two sides never link each other, and this
 * is their one definition.  Owns no state, takes no lock.
 *
 * The directory: /tmp/heapsight-<uid>, uid the target's effective uid;
 * mode 0700, owned by uid, a directory and not a symlink.  The command
 * creates it (through /proc/<pid>/root when it can, so that a target with
 * a /tmp of its own is reached); the library only checks it.  In it, for
 * a target whose own pid (the last of NSpid) is P:
 *
 *   attach.P.req       the request: the command writes it under a name of
 *                      its own, links it to this name (link fails while
 *                      another request waits) and sends the signal
 *                      (prof_attach_signal); the listener reads it, checks
 *                      it (a regular file of its uid, not a symlink, at
 *                      most ATTACH_MSG_MAX bytes) and removes it
 *   attach.P.rep       the reply: the listener writes it (0600, under a
 *                      temporary name renamed into place); the command
 *                      waits for it, checks it the same way, removes it
 *   attach.P.N.pb.gz   a dump of the session; the command moves it out
 *
 * A message is text, "key value" lines, the first ATTACH_MAGIC.
 *   request: id TOKEN; op start|dump|ping|stop; session TOKEN (all but
 *            start: the id of the start); lease_ms MS (the listener turns
 *            sampling off by itself when no request comes for that long);
 *            sample BYTES (start, optional: the mean sample interval for
 *            the session)
 *   reply:   id TOKEN (the request's); status ok|error; message TEXT (one
 *            line, with error); file TRIGGER NAME (each dump written:
 *            timer, final, peak)
 *
 * Ops: start (refused while sampling is on: counters reset, sampling on),
 * dump (a profile of the session so far), ping (the lease renewed), stop
 * (sampling off, then the final and the peak profile; the process's own
 * sample interval back).
 */
#ifndef HS_ATTACH_PROTO_H
#define HS_ATTACH_PROTO_H

#define ATTACH_MAGIC "heapsight-attach 1"
/* The directory: its parent, and its name formatted with the uid
 * (unsigned). */
#define ATTACH_DIR_PARENT "/tmp"
#define ATTACH_DIR_NAME_FMT "heapsight-%u"
/* The request's and the reply's names in it, with the pid (int). */
#define ATTACH_REQ_FMT "attach.%d.req"
#define ATTACH_REP_FMT "attach.%d.rep"
/* A dump's name, with the pid (int) and a count (unsigned). */
#define ATTACH_DUMP_FMT "attach.%d.%u.pb.gz"
/* The listener thread's name (/proc/<pid>/task/<tid>/comm): the command
 * sends the signal to that thread alone when it finds it. */
#define ATTACH_THREAD_NAME "hs-attach"
/* The largest request or reply, in bytes. */
#define ATTACH_MSG_MAX 4096
/* The longest token and name in a message. */
#define ATTACH_TOKEN_MAX 64
/* prof_attach_signal's default (alloc/util/signame.h). */
#define ATTACH_SIGNAL_DEFAULT "RTMIN+5"
/* lease_ms when a request has none, and its bounds. */
#define ATTACH_LEASE_DEFAULT_MS 30000
#define ATTACH_LEASE_MIN_MS 1000
#define ATTACH_LEASE_MAX_MS 86400000
/* Bound of sample (prof_sample's, alloc/opts.h). */
#define ATTACH_SAMPLE_MAX ((unsigned long long)1 << 40)

#endif /* HS_ATTACH_PROTO_H */
