package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoSettings;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A worker against a real broker and the simulator: what lands on the topics is what users see. */
class WorkerIntegrationTest {

  private static ActorTestKit kit;
  private static NemoSim sim;
  private static Worker worker;
  private static Topics topics;
  private static String bootstrap;

  @BeforeAll
  static void start() throws Exception {
    Config config = ConfigFactory.parseMap(Map.of(
            "nemo-sim.port", 0,
            "nemo-sim.time-scale", 0.005,
            "reelay.worker.render-poll-initial", "100ms",
            "reelay.worker.render-poll-max", "300ms",
            "reelay.nemo.retry.initial", "100ms"))
        .withFallback(ConfigFactory.load()).resolve();
    kit = ActorTestKit.create("worker-it", config);
    sim = NemoSim.start(kit.system(), SimSettings.from(config.getConfig("nemo-sim")))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    bootstrap = TestKafka.bootstrapServers();
    topics = Topics.withPrefix(TestKafka.uniqueName("wit"));
    TopicSetup.ensure(bootstrap, topics, 3, (short) 1);
    WorkerSettings settings = WorkerSettings.from(config)
        .withKafka(bootstrap, topics)
        .withGroupId(TestKafka.uniqueName("workers"));
    NemoClient client = new NemoClient(kit.system(),
        NemoSettings.from(config.getConfig("reelay.nemo")).withBaseUrl(sim.baseUrl()));
    worker = Worker.start(kit.system(), settings, client);
  }

  @AfterAll
  static void stop() throws Exception {
    if (worker != null) {
      worker.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    if (sim != null) {
      sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    if (kit != null) {
      kit.shutdownTestKit();
    }
  }

  @Test
  void requestsOfOneSessionRunInOrderWithIncreasingSeqAndOneCompletionEach() throws Exception {
    String s = "s-" + UUID.randomUUID();
    publish(s, "{\"v\":1,\"requestId\":\"g-" + s + "\",\"sessionKey\":\"" + s + "\",\"text\":\"a city skyline at dusk\"}");
    publish(s, "{\"v\":1,\"requestId\":\"e-" + s + "\",\"sessionKey\":\"" + s + "\",\"text\":\"export it please\"}");
    publish(s, "{\"v\":1,\"requestId\":\"c-" + s + "\",\"sessionKey\":\"" + s + "\",\"text\":\"余额\"}");

    List<Event> events = readUntil(topics.events(), list -> terminalCount(list, s) == 3);
    Map<String, List<Event>> byRequest = events.stream()
        .filter(e -> e.sessionKey().equals(s))
        .collect(Collectors.groupingBy(Event::requestId));
    for (List<Event> perRequest : byRequest.values()) {
      for (int i = 1; i < perRequest.size(); i++) {
        assertThat(perRequest.get(i).seq()).isGreaterThan(perRequest.get(i - 1).seq());
      }
      assertThat(perRequest.stream().filter(Event::isTerminal)).hasSize(1);
      assertThat(perRequest.get(perRequest.size() - 1).isTerminal()).isTrue();
    }
    Event gen = last(byRequest.get("g-" + s));
    Event exp = last(byRequest.get("e-" + s));
    Event credits = last(byRequest.get("c-" + s));
    assertThat(gen.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(exp.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(exp.result().downloadUrl()).contains(".mp4");
    assertThat(credits.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(credits.result().credits()).isNotNull();
    // the export only started after the generation finished
    Event firstExportRunning = byRequest.get("e-" + s).stream()
        .filter(e -> e.state() == RequestState.RUNNING).findFirst().orElseThrow();
    assertThat(firstExportRunning.at()).isAfterOrEqualTo(gen.at());

    List<Event> completions = readUntil(topics.completions(),
        list -> list.stream().filter(e -> e.sessionKey().equals(s)).count() >= 3);
    assertThat(completions.stream().filter(e -> e.sessionKey().equals(s)).map(Event::requestId))
        .containsExactlyInAnyOrder("g-" + s, "e-" + s, "c-" + s);
  }

  @Test
  void malformedRecordsGoToTheDlqWithAReasonAndDoNotBlockThePartition() throws Exception {
    String s = "bad-" + UUID.randomUUID();
    publish(s, "this is not json");
    publish(s, "{\"v\":1,\"requestId\":\"m-" + s + "\",\"sessionKey\":\"" + s + "\",\"action\":\"generate\"}");
    publish(s, "{\"v\":1,\"requestId\":\"ok-" + s + "\",\"sessionKey\":\"" + s + "\",\"action\":\"credits\"}");

    List<Event> events = readUntil(topics.events(), list -> terminalCount(list, s) == 2);
    Event rejected = last(events.stream().filter(e -> e.requestId().equals("m-" + s)).toList());
    assertThat(rejected.state()).isEqualTo(RequestState.REJECTED);
    assertThat(rejected.error().reason()).contains("text is required");
    Event ok = last(events.stream().filter(e -> e.requestId().equals("ok-" + s)).toList());
    assertThat(ok.state()).isEqualTo(RequestState.COMPLETED);

    List<ConsumerRecord<String, byte[]>> dlq = readRecords(topics.dlq(),
        list -> list.stream().filter(r -> s.equals(r.key())).count() >= 2);
    List<ConsumerRecord<String, byte[]>> mine = dlq.stream().filter(r -> s.equals(r.key())).toList();
    assertThat(new String(mine.get(0).value(), StandardCharsets.UTF_8)).isEqualTo("this is not json");
    assertThat(header(mine.get(0), "reelay.reason")).startsWith("not a valid request");
    assertThat(header(mine.get(0), "reelay.source.topic")).isEqualTo(topics.requests());
    assertThat(header(mine.get(1), "reelay.reason")).contains("text is required");
  }

  // ------------------------------------------------------------------ helpers

  private static long terminalCount(List<Event> events, String session) {
    return events.stream().filter(e -> session.equals(e.sessionKey()) && e.isTerminal()).count();
  }

  private static Event last(List<Event> events) {
    return events.get(events.size() - 1);
  }

  private static String header(ConsumerRecord<?, ?> r, String name) {
    return new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
  }

  private static void publish(String key, String json) throws Exception {
    try (KafkaProducer<String, String> p = new KafkaProducer<>(
        Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringSerializer(), new StringSerializer())) {
      p.send(new ProducerRecord<>(topics.requests(), key, json)).get(30, TimeUnit.SECONDS);
    }
  }

  private static List<Event> readUntil(String topic, Predicate<List<Event>> done) {
    List<Event> out = new ArrayList<>();
    readRecords(topic, records -> {
      out.clear();
      records.forEach(r -> out.add(Json.read(r.value(), Event.class)));
      return done.test(out);
    });
    return out;
  }

  private static List<ConsumerRecord<String, byte[]>> readRecords(
      String topic, Predicate<List<ConsumerRecord<String, byte[]>>> done) {
    Map<String, Object> props = new HashMap<>();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, TestKafka.uniqueName("reader"));
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(records::add);
        if (done.test(records)) {
          return records;
        }
      }
    }
    throw new AssertionError("condition not met on " + topic + " within 90 s; saw " + records.size() + " records");
  }
}
