package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every kind of broken record a producer can send, through a real worker: each one is dead-lettered
 * with a reason its sender can act on (and a REJECTED event when its requestId can be read), or —
 * uploads the session refuses — ends REJECTED without a dead letter; and the worker keeps going.
 */
class MalformedCorpusTest {

  private static final int TOPIC_LIMIT = 16 * 1024 * 1024;
  private static final int DEFAULT_MAX_RECORD_BYTES = 1024 * 1024; // reelay.worker.max-record-bytes
  private static final int OVERSIZE_TEXT_CHARS = 10 * 1024 * 1024;
  // what a reason must not show its reader: Java types, library settings, parser tokens
  private static final Pattern JARGON = Pattern.compile(
      "io\\.reelay|java\\.|`|Exception|DeserializationFeature|CoercionConfig|StreamReadConstraints|JsonToken|argument \"|\\b[A-Z]+_[A-Z_]+\\b");

  private static WorkerHarness h;
  private static KafkaProducer<String, byte[]> raw;
  private static final List<Kind> corpus = new ArrayList<>();
  private static final Map<Kind, RecordMetadata> sent = new LinkedHashMap<>();
  /** A credits request per partition the corpus used, published after all of it, on one of its session keys. */
  private static final Map<Integer, String> followUps = new TreeMap<>();
  private static final Map<String, List<ConsumerRecord<String, byte[]>>> deadLetters = new HashMap<>();
  private static final Map<String, List<Event>> events = new HashMap<>();

  /** What the worker does with a kind of record. */
  enum Outcome {
    /** DLQ record and a REJECTED event (INVALID_REQUEST, or the upload check's own code) keyed by the requestId. */
    DEAD_LETTER_AND_REJECTED,
    /** DLQ record only: there is no requestId to tell. */
    DEAD_LETTER_ONLY
  }

  /**
   * One malformed record. {@code requestId} is the id written into it (null if none), {@code reason}
   * a pattern the reason a person reads must contain, {@code code} the REJECTED event's error code.
   */
  record Kind(String name, String key, String requestId, byte[] value, Outcome outcome, Pattern reason, String code) {
    @Override
    public String toString() {
      return name;
    }
  }

  @BeforeAll
  static void publishTheCorpusThenAValidRequestPerPartition() throws Exception {
    h = new WorkerHarness(Map.of());
    allowTenMegabyteRecordsOnRequests();
    raw = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, h.bootstrap,
        ProducerConfig.MAX_REQUEST_SIZE_CONFIG, TOPIC_LIMIT,
        ProducerConfig.BUFFER_MEMORY_CONFIG, 4L * TOPIC_LIMIT), new StringSerializer(), new ByteArraySerializer());

    corpus.addAll(corpus());
    for (Kind k : corpus) {
      sent.put(k, raw.send(new ProducerRecord<>(h.topics.requests(), k.key(), k.value())).get(60, TimeUnit.SECONDS));
    }
    // after the whole corpus, on each partition it used, a valid request on one of its session keys
    Map<Integer, String> lastKeyPerPartition = new TreeMap<>();
    sent.forEach((k, meta) -> lastKeyPerPartition.put(meta.partition(), k.key()));
    for (Map.Entry<Integer, String> e : lastKeyPerPartition.entrySet()) {
      String id = "ok-" + UUID.randomUUID();
      String json = "{\"v\":1,\"requestId\":\"" + id + "\",\"sessionKey\":\"" + e.getValue() + "\",\"action\":\"credits\"}";
      RecordMetadata meta = raw.send(new ProducerRecord<>(h.topics.requests(), e.getValue(), utf8(json))).get(60, TimeUnit.SECONDS);
      assertThat(meta.partition()).as("a record keyed by a session key lands on that session's partition").isEqualTo(e.getKey());
      followUps.put(e.getKey(), id);
    }
    collectDeadLettersAndEvents();
  }

  @AfterAll
  static void stop() throws Exception {
    if (raw != null) {
      raw.close();
    }
    if (h != null) {
      h.close();
    }
  }

  @Test
  void theCorpusHasEveryKindOnce() {
    assertThat(corpus).hasSizeGreaterThanOrEqualTo(22);
    assertThat(corpus.stream().map(Kind::name).distinct()).hasSameSizeAs(corpus);
    assertThat(corpus.stream().map(Kind::key).distinct()).hasSameSizeAs(corpus);
  }

  @TestFactory
  Stream<DynamicTest> eachKindIsDeadLetteredOrRefusedWithAReasonItsSenderUnderstands() {
    return corpus.stream().map(k -> DynamicTest.dynamicTest(k.name(), () -> {
      switch (k.outcome()) {
        case DEAD_LETTER_AND_REJECTED, DEAD_LETTER_ONLY -> assertDeadLettered(k);
      }
    }));
  }

  @Test
  void noReasonNamesAJavaTypeOrALibrarySetting() {
    Map<String, String> unreadable = new TreeMap<>();
    for (Kind k : corpus) {
      List<ConsumerRecord<String, byte[]>> dl = deadLetters.getOrDefault(k.key(), List.of());
      if (!dl.isEmpty() && JARGON.matcher(header(dl.get(0), "reelay.reason")).find()) {
        unreadable.put(k.name(), header(dl.get(0), "reelay.reason"));
      }
    }
    assertThat(unreadable).as("reasons that speak Java/Jackson instead of saying what to fix").isEmpty();
  }

  @Test
  void theWorkerKeepsGoingAfterTheWholeCorpus() {
    assertThat(followUps).isNotEmpty();
    for (String id : followUps.values()) {
      List<Event> mine = events.getOrDefault(id, List.of());
      assertThat(mine).as("events of the valid request %s published after the corpus", id).isNotEmpty();
      assertThat(mine.get(mine.size() - 1).state()).as(id).isEqualTo(RequestState.COMPLETED);
      assertThat(mine.get(mine.size() - 1).result().credits()).as(id).isNotNull();
    }
  }

  // ------------------------------------------------------------------ the corpus

  private static List<Kind> corpus() {
    List<Kind> c = new ArrayList<>();
    String s;
    String id;

    s = session();
    c.add(deadLetterOnly("not JSON at all", s, null, "not JSON", utf8("this is not json")));
    s = session();
    id = id();
    // cut off mid-string: the requestId is in the bytes but no JSON parser can read it, so no event
    c.add(deadLetterOnly("truncated JSON", s, id, "end-of-input|ends early|truncated|cut off",
        utf8("{\"v\":1,\"requestId\":\"" + id + "\",\"sessionKey\":\"" + s + "\",\"text\":\"a fox runn")));
    s = session();
    id = id();
    c.add(deadLetterOnly("a JSON array", s, id, "array",
        utf8("[{\"v\":1,\"requestId\":\"" + id + "\",\"sessionKey\":\"" + s + "\",\"action\":\"credits\"}]")));
    s = session();
    c.add(deadLetterOnly("a JSON string at top level", s, null, "string", utf8("\"generate a video of a fox\"")));
    s = session();
    c.add(deadLetterOnly("a JSON number at top level", s, null, "number", utf8("42")));
    s = session();
    c.add(deadLetterOnly("JSON null at top level", s, null, "empty", utf8("null")));
    s = session();
    c.add(deadLetterOnly("an empty value (zero bytes)", s, null, "empty|no content", new byte[0]));
    s = session();
    c.add(deadLetterOnly("a null value (tombstone)", s, null, "empty|no value|tombstone", null));

    s = session();
    id = id();
    c.add(rejected("v as a string", s, id, "'v'", json("\"1\"", id, s, "\"action\":\"credits\"")));
    s = session();
    id = id();
    c.add(rejected("text as an object", s, id, "'text'", json("1", id, s, "\"text\":{\"prompt\":\"a fox\"}")));
    s = session();
    id = id();
    c.add(rejected("upload as a number", s, id, "'upload'", json("1", id, s, "\"action\":\"upload\",\"upload\":42")));
    s = session();
    id = id();
    c.add(rejected("submittedAt not a date", s, id, "submittedAt",
        json("1", id, s, "\"action\":\"credits\",\"submittedAt\":\"yesterday\"")));
    s = session();
    id = id();
    c.add(rejected("v missing", s, id, "'v'",
        utf8("{\"requestId\":\"" + id + "\",\"sessionKey\":\"" + s + "\",\"action\":\"credits\"}")));

    s = session();
    c.add(deadLetterOnly("requestId missing", s, null, "requestId is required",
        utf8("{\"v\":1,\"sessionKey\":\"" + s + "\",\"action\":\"credits\"}")));
    s = session();
    id = id();
    // the REJECTED event falls back to the record's key for its sessionKey
    c.add(rejected("sessionKey missing", s, id, "sessionKey is required",
        utf8("{\"v\":1,\"requestId\":\"" + id + "\",\"action\":\"credits\"}")));
    s = session();
    c.add(deadLetterOnly("requestId blank", s, "   ", "requestId is required", json("1", "   ", s, "\"action\":\"credits\"")));
    s = session();
    id = "bad id/" + UUID.randomUUID();
    // readable, so its sender is told — under the id as sent
    c.add(rejected("requestId with illegal characters", s, id, "requestId must be 1-128 characters",
        json("1", id, s, "\"action\":\"credits\"")));
    s = session();
    id = "r-" + "x".repeat(100) + UUID.randomUUID(); // 138 characters: too long to name events with
    c.add(deadLetterOnly("requestId over 128 characters", s, id, "requestId must be 1-128 characters",
        json("1", id, s, "\"action\":\"credits\"")));

    s = session();
    id = id();
    c.add(rejected("tenant with illegal characters", s, id, "tenant must be",
        json("1", id, s, "\"tenant\":\"acme/../other\",\"action\":\"credits\"")));

    s = session();
    id = id();
    c.add(rejected("unknown action", s, id, "unknown action 'explode'", json("1", id, s, "\"action\":\"explode\",\"text\":\"boom\"")));
    s = session();
    id = id();
    c.add(rejected("v=2", s, id, "v=2", json("2", id, s, "\"action\":\"credits\"")));
    s = session();
    id = id();
    c.add(rejected("v=0", s, id, "v=0", json("0", id, s, "\"action\":\"credits\"")));
    s = session();
    id = id();
    c.add(rejected("empty text for generate", s, id, "text is required for generate",
        json("1", id, s, "\"action\":\"generate\",\"text\":\"\"")));
    s = session();
    id = id();
    c.add(rejected("text over 8000 characters", s, id, "longer than 8000 characters",
        json("1", id, s, "\"action\":\"generate\",\"text\":\"" + "a fox ".repeat(1334) + "\"")));
    s = session();
    id = id();
    c.add(rejected("cancel without cancels", s, id, "cancels is required", json("1", id, s, "\"action\":\"cancel\"")));
    s = session();
    id = id();
    c.add(rejected("upload without url or path", s, id, "upload\\.url or upload\\.path",
        json("1", id, s, "\"action\":\"upload\",\"upload\":{\"fileName\":\"clip.mp4\"}")));

    // Bad upload paths and types parse and validate; UploadCheck refuses them before they take a slot
    // or a backend call: dead-lettered, and REJECTED with the check's own code and hint.
    s = session();
    id = id();
    c.add(refusedUpload("upload path escaping the media dir", s, id, "outside the media directory", "PATH_OUTSIDE_MEDIA_DIR",
        json("1", id, s, "\"action\":\"upload\",\"upload\":{\"path\":\"../../etc/passwd\"}")));
    s = session();
    id = id();
    c.add(refusedUpload("upload of an unsupported file type", s, id, "unsupported file type", "4001",
        json("1", id, s, "\"action\":\"upload\",\"upload\":{\"url\":\"https://example.com/tool.exe\"}")));

    s = session();
    id = id();
    byte[] head = utf8("{\"v\":1,\"requestId\":\"" + id + "\",\"sessionKey\":\"" + s + "\",\"action\":\"generate\",\"text\":\"a fox ");
    byte[] badUtf8 = Arrays.copyOf(head, head.length + 4);
    System.arraycopy(new byte[] {(byte) 0xff, (byte) 0xfe, '"', '}'}, 0, badUtf8, head.length, 4);
    c.add(deadLetterOnly("invalid UTF-8 bytes", s, id, "UTF-8", badUtf8));
    s = session();
    id = id();
    c.add(deadLetterOnly("JSON nested 5000 levels deep", s, id, "nest",
        json("1", id, s, "\"action\":\"credits\",\"extra\":" + "[".repeat(5000) + "]".repeat(5000))));

    // last, so that a worker that cannot cope with it has handled everything else first
    s = session();
    id = id();
    c.add(rejected("a 10 MB record", s, id, "bytes, over the limit",
        json("1", id, s, "\"action\":\"generate\",\"text\":\"" + "a".repeat(OVERSIZE_TEXT_CHARS) + "\"")));
    return c;
  }

  private static Kind deadLetterOnly(String name, String key, String requestId, String reason, byte[] value) {
    return new Kind(name, key, requestId, value, Outcome.DEAD_LETTER_ONLY, Pattern.compile(reason, Pattern.CASE_INSENSITIVE), null);
  }

  private static Kind rejected(String name, String key, String requestId, String reason, byte[] value) {
    return new Kind(name, key, requestId, value, Outcome.DEAD_LETTER_AND_REJECTED, Pattern.compile(reason, Pattern.CASE_INSENSITIVE),
        "INVALID_REQUEST");
  }

  private static Kind refusedUpload(String name, String key, String requestId, String reason, String code, byte[] value) {
    return new Kind(name, key, requestId, value, Outcome.DEAD_LETTER_AND_REJECTED, Pattern.compile(reason, Pattern.CASE_INSENSITIVE), code);
  }

  /** {@code {"v":<v>,"requestId":id,"sessionKey":session,<rest>}}; {@code v} is raw JSON. */
  private static byte[] json(String v, String id, String session, String rest) {
    return utf8("{\"v\":" + v + ",\"requestId\":\"" + id + "\",\"sessionKey\":\"" + session + "\"," + rest + "}");
  }

  private static String session() {
    return "mal-" + UUID.randomUUID();
  }

  private static String id() {
    return "r-" + UUID.randomUUID();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------------ assertions

  private static void assertDeadLettered(Kind k) {
    RecordMetadata meta = sent.get(k);
    List<ConsumerRecord<String, byte[]>> dl = deadLetters.getOrDefault(k.key(), List.of());
    assertThat(dl).as("dead letters of %s", k).hasSize(1);
    ConsumerRecord<String, byte[]> d = dl.get(0);
    assertThat(header(d, "reelay.source.topic")).isEqualTo(h.topics.requests());
    assertThat(header(d, "reelay.source.partition")).isEqualTo(Integer.toString(meta.partition()));
    assertThat(header(d, "reelay.source.offset")).isEqualTo(Long.toString(meta.offset()));
    String reason = header(d, "reelay.reason");
    assertThat(reason).as("reason given for %s", k).containsPattern(k.reason());

    if (k.value() != null && k.value().length > DEFAULT_MAX_RECORD_BYTES) {
      // kept as evidence, cut to at most the limit (DLQ topics keep Kafka's default 1 MB record limit)
      assertThat(d.value()).as("the DLQ copy of an oversize record").isNotEmpty().hasSizeLessThanOrEqualTo(DEFAULT_MAX_RECORD_BYTES);
      assertThat(d.value()).isEqualTo(Arrays.copyOf(k.value(), d.value().length));
      assertThat(header(d, "reelay.truncated")).as("the original size").isEqualTo(Integer.toString(k.value().length));
    } else {
      assertThat(d.value()).as("the original bytes, unchanged").isEqualTo(k.value());
      assertThat(d.headers().lastHeader("reelay.truncated")).isNull();
    }

    if (k.outcome() == Outcome.DEAD_LETTER_AND_REJECTED) {
      List<Event> mine = events.getOrDefault(k.requestId(), List.of());
      assertThat(mine).as("events of %s", k).hasSize(1);
      Event e = mine.get(0);
      assertThat(e.state()).isEqualTo(RequestState.REJECTED);
      assertThat(e.seq()).isEqualTo(1);
      assertThat(e.sessionKey()).isEqualTo(k.key());
      assertThat(e.error().code()).isEqualTo(k.code());
      assertThat(e.error().reason()).as("the sender reads the same reason as the DLQ").isEqualTo(reason);
      assertThat(e.error().retryable()).isFalse();
      assertThat(e.error().hint()).as("what to do about it").isNotBlank();
    } else {
      assertNoEventsFor(k);
    }
  }

  /** Nothing on the events topic names this record: not its (unreadable) requestId, not its session. */
  private static void assertNoEventsFor(Kind k) {
    if (k.requestId() != null) {
      assertThat(events.getOrDefault(k.requestId(), List.of())).as("events keyed by %s's requestId", k).isEmpty();
    }
    // (the valid request published after the corpus may share the session: its events don't count)
    assertThat(events.values().stream().flatMap(List::stream)
            .filter(e -> k.key().equals(e.sessionKey()) && !followUps.containsValue(e.requestId())))
        .as("events of %s's session", k).isEmpty();
  }

  private static String header(ConsumerRecord<?, ?> r, String name) {
    Header hd = r.headers().lastHeader(name);
    assertThat(hd).as("header %s", name).isNotNull();
    return new String(hd.value(), StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------------ Kafka

  /** The broker refuses records over 1 MB by default; the 10 MB one must reach the worker. */
  private static void allowTenMegabyteRecordsOnRequests() throws Exception {
    ConfigResource requests = new ConfigResource(ConfigResource.Type.TOPIC, h.topics.requests());
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", h.bootstrap))) {
      admin.incrementalAlterConfigs(Map.of(requests, List.of(new AlterConfigOp(
              new ConfigEntry("max.message.bytes", Integer.toString(TOPIC_LIMIT)), AlterConfigOp.OpType.SET))))
          .all().get(30, TimeUnit.SECONDS);
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!Integer.toString(TOPIC_LIMIT).equals(
          admin.describeConfigs(List.of(requests)).all().get(30, TimeUnit.SECONDS).get(requests).get("max.message.bytes").value())) {
        assertThat(System.nanoTime()).as("max.message.bytes applied within 30 s").isLessThan(deadline);
        Thread.sleep(100);
      }
    }
  }

  /**
   * Reads the DLQ and events topics until every expected dead letter and terminal event is there (or
   * 120 s passed: then the per-kind assertions say what is missing).
   */
  private static void collectDeadLettersAndEvents() {
    Set<String> dlqKeys = corpus.stream().map(Kind::key).collect(Collectors.toSet());
    Set<String> terminalIds = Stream.concat(
            corpus.stream().filter(k -> k.outcome() != Outcome.DEAD_LETTER_ONLY).map(Kind::requestId),
            followUps.values().stream())
        .collect(Collectors.toSet());
    Map<String, Object> props = Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, h.bootstrap,
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> all = new ArrayList<>();
      for (String topic : List.of(h.topics.dlq(), h.topics.events())) {
        c.partitionsFor(topic).forEach(p -> all.add(new TopicPartition(topic, p.partition())));
      }
      c.assign(all);
      c.seekToBeginning(all);
      long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
          if (r.topic().equals(h.topics.dlq())) {
            deadLetters.computeIfAbsent(r.key(), x -> new ArrayList<>()).add(r);
          } else {
            Event e = Json.read(r.value(), Event.class); // by its requestId: a rejected one may be any text
            events.computeIfAbsent(e.requestId(), x -> new ArrayList<>()).add(e);
          }
        }
        boolean allDeadLetters = deadLetters.keySet().containsAll(dlqKeys);
        boolean allTerminal = terminalIds.stream()
            .allMatch(id -> events.getOrDefault(id, List.of()).stream().anyMatch(Event::isTerminal));
        if (allDeadLetters && allTerminal) {
          return;
        }
      }
    }
  }
}
