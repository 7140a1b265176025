/*
 * coolamqp-bench-c: the librabbitmq-c client of the end-to-end runner (bench/README.md).
 *
 * One thread, the library's synchronous API (it waits in poll() on its non-blocking socket, as strace shows), as a
 * C application would use it. Each publish is three send() calls (method and header with MSG_MORE). The runner
 * starts one process per run; the scenarios do what the C# drivers in bench/CoolAmqp.Bench/Drivers do.
 *
 *   coolamqp-bench-c SCENARIO QUEUE BODY_SIZE COUNT MAX_UNCONFIRMED PREFETCH
 *   SCENARIO: check, declare, publish, publish-confirm, consume, consume-ack, roundtrip
 *   broker: the COOLAMQP_BROKER environment variable (amqp URI; kept out of the argument list, which any
 *   user can read), default amqp://guest:guest@127.0.0.1:5672/
 *
 * Output, one line each on stdout (times are CLOCK_MONOTONIC in ns, which is .NET's Stopwatch clock on Linux;
 * cpu is this process's user + system time over the measured interval only, like the C# drivers' interval):
 *   check:    "ok NOW"
 *   declare:  "ok"
 *   publish:  "published START", then it waits for a line (or EOF) on stdin, sent when the runner has seen every
 *             message in the queue, and answers "result start=START end=0 cpu=CPU msgs=N bad=0 nacks=0"
 *   others:   "result start=START end=END cpu=CPU msgs=N bad=B nacks=K"
 *   roundtrip also "latencies L1 L2 ..." (ns per round trip)
 *   failure:  "error TEXT", exit code 1
 */
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUBLISH_CHANNEL 1
#define CONSUME_CHANNEL 2
/* The broker's default frame-max, as CoolAmqp and RabbitMQ.Client end up using it. */
#define FRAME_MAX 131072

static amqp_connection_state_t conn;

static void fail(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("error ", stdout);
  vprintf(format, args);
  fputc('\n', stdout);
  va_end(args);
  fflush(stdout);
  exit(1);
}

static int64_t clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

static int64_t cpu_ns(void) { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }

static void check_status(int status, const char *what) {
  if (status != AMQP_STATUS_OK) fail("%s: %s", what, amqp_error_string2(status));
}

/* Reports the broker's close reason (channel.close or connection.close) when that is why a call failed. */
static void check_reply(amqp_rpc_reply_t reply, const char *what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      fail("%s: no reply", what);
      break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      fail("%s: %s", what, amqp_error_string2(reply.library_error));
      break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *close = reply.reply.decoded;
        fail("%s: channel closed by the broker: %u %.*s", what, close->reply_code, (int)close->reply_text.len,
             (char *)close->reply_text.bytes);
      } else if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *close = reply.reply.decoded;
        fail("%s: connection closed by the broker: %u %.*s", what, close->reply_code, (int)close->reply_text.len,
             (char *)close->reply_text.bytes);
      }
      fail("%s: unexpected server method 0x%08X", what, reply.reply.id);
      break;
  }
}

/* A method frame outside a call; only confirms are expected, everything else ends the run. */
static void fail_on_frame(const amqp_frame_t *frame, const char *what) {
  if (frame->frame_type != AMQP_FRAME_METHOD) fail("%s: unexpected frame type %u", what, frame->frame_type);
  amqp_rpc_reply_t reply = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION, .reply = frame->payload.method};
  check_reply(reply, what);
}

static void connect_broker(void) {
  const char *uri = getenv("COOLAMQP_BROKER");
  if (uri == NULL || *uri == '\0') uri = "amqp://guest:guest@127.0.0.1:5672/";
  /* amqp_parse_url writes into its argument and points the fields into it, so this copy lives until exit. */
  char *copy = strdup(uri);
  struct amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (copy == NULL || amqp_parse_url(copy, &info) != AMQP_STATUS_OK) fail("COOLAMQP_BROKER is not an amqp URI");
  if (info.ssl) fail("amqps is not supported by this driver");
  /* amqp://host:port/ parses to the empty vhost; RabbitMQ.Client and CoolAmqp read that URI as "/". */
  const char *vhost = info.vhost[0] == '\0' ? "/" : info.vhost;

  conn = amqp_new_connection();
  amqp_socket_t *socket = amqp_tcp_socket_new(conn);
  if (socket == NULL) fail("could not create the socket");
  check_status(amqp_socket_open(socket, info.host, info.port), "opening the socket");

  amqp_table_entry_t name;
  name.key = amqp_cstring_bytes("connection_name");
  name.value.kind = AMQP_FIELD_KIND_UTF8;
  name.value.value.bytes = amqp_cstring_bytes("coolamqp-bench librabbitmq-c");
  amqp_table_t properties = {1, &name};
  /* Heartbeats off: a run lasts seconds, and the library would otherwise check the heartbeat clock per call. */
  check_reply(amqp_login_with_properties(conn, vhost, 0, FRAME_MAX, 0, &properties, AMQP_SASL_METHOD_PLAIN,
                                         info.user, info.password),
              "login");
}

static void open_channel(amqp_channel_t channel) {
  amqp_channel_open(conn, channel);
  check_reply(amqp_get_rpc_reply(conn), "channel.open");
}

static void close_channel(amqp_channel_t channel) {
  check_reply(amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS), "channel.close");
}

static void close_connection(void) {
  check_reply(amqp_connection_close(conn, AMQP_REPLY_SUCCESS), "connection.close");
  amqp_destroy_connection(conn);
}

/* The same pattern as Payload.Fill: 'a' + i % 26. */
static amqp_bytes_t make_body(size_t size) {
  amqp_bytes_t body = amqp_bytes_malloc(size);
  if (size > 0 && body.bytes == NULL) fail("out of memory");
  for (size_t i = 0; i < size; i++) ((char *)body.bytes)[i] = (char)('a' + i % 26);
  return body;
}

static void print_result(int64_t start, int64_t end, int64_t cpu, long msgs, long bad, long nacks) {
  printf("result start=%" PRId64 " end=%" PRId64 " cpu=%" PRId64 " msgs=%ld bad=%ld nacks=%ld\n", start, end, cpu, msgs,
         bad, nacks);
  fflush(stdout);
}

static void declare(const char *queue) {
  open_channel(PUBLISH_CHANNEL);
  amqp_queue_declare(conn, PUBLISH_CHANNEL, amqp_cstring_bytes(queue), 0, 0, 0, 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(conn), "queue.declare");
  close_channel(PUBLISH_CHANNEL);
  puts("ok");
}

/* Like the C# drivers' PublishAsync: no confirms; the runner sees the end in the queue's message count. */
static void publish(const char *queue, size_t size, long count) {
  amqp_bytes_t body = make_body(size);
  amqp_bytes_t routing_key = amqp_cstring_bytes(queue);
  open_channel(PUBLISH_CHANNEL);
  int64_t cpu0 = cpu_ns();
  int64_t start = now_ns();
  for (long i = 0; i < count; i++) {
    check_status(amqp_basic_publish(conn, PUBLISH_CHANNEL, amqp_empty_bytes, routing_key, 0, 0, NULL, body),
                 "basic.publish");
  }
  printf("published %" PRId64 "\n", start);
  fflush(stdout);
  char line[64];
  if (fgets(line, sizeof line, stdin) == NULL && ferror(stdin)) fail("reading stdin");
  int64_t cpu = cpu_ns() - cpu0;
  print_result(start, 0, cpu, count, 0, 0);
  close_channel(PUBLISH_CHANNEL);
  amqp_bytes_free(body);
}

/* Confirm bookkeeping: RabbitMQ confirms one channel's publishes to one queue in order, so a `multiple` ack or
 * nack covers the tags from the last one seen up to its own (publish sequence numbers start at 1). */
typedef struct {
  uint64_t last_tag;
  long settled;
  long nacks;
} confirms_t;

static void handle_confirm(confirms_t *confirms, const amqp_frame_t *frame) {
  uint64_t tag;
  amqp_boolean_t multiple;
  int nack;
  if (frame->frame_type == AMQP_FRAME_METHOD && frame->payload.method.id == AMQP_BASIC_ACK_METHOD) {
    amqp_basic_ack_t *ack = frame->payload.method.decoded;
    tag = ack->delivery_tag;
    multiple = ack->multiple;
    nack = 0;
  } else if (frame->frame_type == AMQP_FRAME_METHOD && frame->payload.method.id == AMQP_BASIC_NACK_METHOD) {
    amqp_basic_nack_t *n = frame->payload.method.decoded;
    tag = n->delivery_tag;
    multiple = n->multiple;
    nack = 1;
  } else {
    fail_on_frame(frame, "waiting for confirms");
    return;
  }
  long covered = multiple ? (long)(tag - confirms->last_tag) : 1;
  if (tag > confirms->last_tag) confirms->last_tag = tag;
  confirms->settled += covered;
  if (nack) confirms->nacks += covered;
}

/* Blocks for one frame, then takes whatever else the library has already read, without another system call. */
static void read_confirms(confirms_t *confirms) {
  amqp_frame_t frame;
  do {
    check_status(amqp_simple_wait_frame(conn, &frame), "reading confirms");
    handle_confirm(confirms, &frame);
  } while (amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn));
  amqp_maybe_release_buffers(conn);
}

/* Like the C# drivers' PublishConfirmAsync: at most max_unconfirmed in flight, stopped at the last confirm. */
static void publish_confirm(const char *queue, size_t size, long count, long max_unconfirmed) {
  amqp_bytes_t body = make_body(size);
  amqp_bytes_t routing_key = amqp_cstring_bytes(queue);
  open_channel(PUBLISH_CHANNEL);
  amqp_confirm_select(conn, PUBLISH_CHANNEL);
  check_reply(amqp_get_rpc_reply(conn), "confirm.select");
  confirms_t confirms = {0, 0, 0};
  int64_t cpu0 = cpu_ns();
  int64_t start = now_ns();
  for (long i = 0; i < count; i++) {
    while (i - confirms.settled >= max_unconfirmed) read_confirms(&confirms);
    check_status(amqp_basic_publish(conn, PUBLISH_CHANNEL, amqp_empty_bytes, routing_key, 0, 0, NULL, body),
                 "basic.publish");
  }
  while (confirms.settled < count) read_confirms(&confirms);
  int64_t end = now_ns();
  int64_t cpu = cpu_ns() - cpu0;
  if (confirms.settled != count) fail("%ld publishes settled, expected %ld", confirms.settled, count);
  print_result(start, end, cpu, count, 0, confirms.nacks);
  close_channel(PUBLISH_CHANNEL);
  amqp_bytes_free(body);
}

/* amqp_consume_message met a frame other than a delivery: read it and fail with what the broker said. */
static void next_delivery(amqp_envelope_t *envelope, const char *what) {
  amqp_rpc_reply_t reply = amqp_consume_message(conn, envelope, NULL, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    amqp_frame_t frame;
    check_status(amqp_simple_wait_frame(conn, &frame), what);
    fail_on_frame(&frame, what);
  }
  check_reply(reply, what);
}

static amqp_bytes_t start_consumer(amqp_channel_t channel, const char *queue, int no_ack) {
  amqp_basic_consume_ok_t *ok =
      amqp_basic_consume(conn, channel, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, no_ack, 0, amqp_empty_table);
  check_reply(amqp_get_rpc_reply(conn), "basic.consume");
  /* The reply lives in the connection's buffers, which the consume loop releases. */
  return amqp_bytes_malloc_dup(ok->consumer_tag);
}

static void cancel_consumer(amqp_channel_t channel, amqp_bytes_t tag) {
  amqp_basic_cancel(conn, channel, tag);
  check_reply(amqp_get_rpc_reply(conn), "basic.cancel");
  amqp_bytes_free(tag);
}

/* Like the C# drivers' ConsumeAsync: timed from channel.open; each delivery acked on its own (multiple = false)
 * in consume-ack; stopped at the Nth delivery; then basic.cancel and channel.close, so the broker has every ack. */
static void consume(const char *queue, size_t size, long count, int manual_ack, int prefetch) {
  long received = 0, bad = 0;
  int64_t end = 0, cpu = 0;
  int64_t cpu0 = cpu_ns();
  int64_t start = now_ns();
  open_channel(CONSUME_CHANNEL);
  amqp_basic_qos(conn, CONSUME_CHANNEL, 0, (uint16_t)prefetch, 0);
  check_reply(amqp_get_rpc_reply(conn), "basic.qos");
  amqp_bytes_t tag = start_consumer(CONSUME_CHANNEL, queue, !manual_ack);
  while (received < count) {
    amqp_envelope_t envelope;
    amqp_maybe_release_buffers(conn);
    next_delivery(&envelope, "consuming");
    if (envelope.message.body.len != size) bad++;
    if (manual_ack) {
      if (amqp_basic_ack(conn, CONSUME_CHANNEL, envelope.delivery_tag, 0) != AMQP_STATUS_OK) fail("basic.ack failed");
    }
    amqp_destroy_envelope(&envelope);
    received++;
  }
  end = now_ns();
  cpu = cpu_ns() - cpu0;
  cancel_consumer(CONSUME_CHANNEL, tag);
  close_channel(CONSUME_CHANNEL);
  print_result(start, end, cpu, received, bad, 0);
}

static void write_sequence(amqp_bytes_t body, uint32_t value) {
  unsigned char *b = body.bytes;
  b[0] = (unsigned char)value;
  b[1] = (unsigned char)(value >> 8);
  b[2] = (unsigned char)(value >> 16);
  b[3] = (unsigned char)(value >> 24);
}

/* The first 4 bytes little-endian, as BinaryPrimitives.ReadInt32LittleEndian reads them; -1 if shorter. */
static int64_t read_sequence(amqp_bytes_t body) {
  if (body.len < 4) return -1;
  const unsigned char *b = body.bytes;
  return (int64_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
}

/* Like the C# drivers' RoundtripAsync: publish on one channel, receive (no-ack) on another of the same connection. */
static void roundtrip(const char *queue, size_t size, long count) {
  if (size < 4) fail("roundtrip needs bodies of at least 4 bytes");
  int64_t *latencies = malloc(sizeof(int64_t) * (size_t)count);
  if (latencies == NULL) fail("out of memory");
  amqp_bytes_t body = make_body(size);
  amqp_bytes_t routing_key = amqp_cstring_bytes(queue);
  open_channel(PUBLISH_CHANNEL);
  open_channel(CONSUME_CHANNEL);
  amqp_bytes_t tag = start_consumer(CONSUME_CHANNEL, queue, 1);
  long bad = 0;
  int64_t cpu0 = cpu_ns();
  int64_t start = now_ns();
  for (long i = 0; i < count; i++) {
    write_sequence(body, (uint32_t)i);
    int64_t sent = now_ns();
    check_status(amqp_basic_publish(conn, PUBLISH_CHANNEL, amqp_empty_bytes, routing_key, 0, 0, NULL, body),
                 "basic.publish");
    amqp_envelope_t envelope;
    amqp_maybe_release_buffers(conn);
    next_delivery(&envelope, "waiting for the round trip");
    latencies[i] = now_ns() - sent;
    if (envelope.message.body.len != size || read_sequence(envelope.message.body) != i) bad++;
    amqp_destroy_envelope(&envelope);
  }
  int64_t end = now_ns();
  int64_t cpu = cpu_ns() - cpu0;
  cancel_consumer(CONSUME_CHANNEL, tag);
  close_channel(CONSUME_CHANNEL);
  close_channel(PUBLISH_CHANNEL);
  print_result(start, end, cpu, count, bad, 0);
  fputs("latencies", stdout);
  for (long i = 0; i < count; i++) printf(" %" PRId64, latencies[i]);
  fputc('\n', stdout);
  fflush(stdout);
  free(latencies);
  amqp_bytes_free(body);
}

static long parse_long(const char *text, const char *name, long minimum) {
  char *end;
  long value = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value < minimum) fail("bad %s '%s'", name, text);
  return value;
}

int main(int argc, char **argv) {
  if (argc != 7) fail("usage: coolamqp-bench-c SCENARIO QUEUE BODY_SIZE COUNT MAX_UNCONFIRMED PREFETCH");
  const char *scenario = argv[1];
  const char *queue = argv[2];
  size_t size = (size_t)parse_long(argv[3], "body size", 0);
  long count = parse_long(argv[4], "count", 1);
  long max_unconfirmed = parse_long(argv[5], "max unconfirmed", 1);
  long prefetch = parse_long(argv[6], "prefetch", 0);
  if (prefetch > 65535) fail("prefetch is at most 65535");

  connect_broker();
  if (strcmp(scenario, "check") == 0) {
    printf("ok %" PRId64 "\n", now_ns());
  } else if (strcmp(scenario, "declare") == 0) {
    declare(queue);
  } else if (strcmp(scenario, "publish") == 0) {
    publish(queue, size, count);
  } else if (strcmp(scenario, "publish-confirm") == 0) {
    publish_confirm(queue, size, count, max_unconfirmed);
  } else if (strcmp(scenario, "consume") == 0) {
    consume(queue, size, count, 0, (int)prefetch);
  } else if (strcmp(scenario, "consume-ack") == 0) {
    consume(queue, size, count, 1, (int)prefetch);
  } else if (strcmp(scenario, "roundtrip") == 0) {
    roundtrip(queue, size, count);
  } else {
    fail("unknown scenario '%s'", scenario);
  }
  close_connection();
  fflush(stdout);
  return 0;
}
