package io.reelay.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoSettings;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

/**
 * One worker against the shared real broker (fresh topics and group) and its own simulator, with
 * what tests need to drive it: publish raw records, read topics, set simulator faults.
 */
final class WorkerHarness implements AutoCloseable {

  final ActorTestKit kit;
  final NemoSim sim;
  final Worker worker;
  final Topics topics;
  final String bootstrap;
  final String groupId;
  private final KafkaProducer<String, String> producer;
  private final HttpClient http = HttpClient.newHttpClient();

  WorkerHarness(Map<String, Object> overrides) throws Exception {
    Map<String, Object> m = new HashMap<>(Map.of(
        "nemo-sim.port", 0,
        "nemo-sim.time-scale", 0.005,
        "reelay.worker.state-key", StateCipher.newKey(),
        "reelay.worker.render-poll.grid", "150ms",
        "reelay.worker.render-poll.margin", "20ms",
        "reelay.worker.render-poll.min-gap", "20ms",
        "reelay.nemo.retry.initial", "50ms",
        "reelay.nemo.retry.max", "200ms",
        "reelay.nemo.retry.rate-limit-wait", "200ms",
        "reelay.worker.stop-grace", "0s")); // a test's stop hands over at once unless it asks for a grace
    m.putAll(overrides);
    Config config = ConfigFactory.parseMap(m).withFallback(ConfigFactory.load()).resolve();
    kit = ActorTestKit.create("worker-test", config);
    sim = NemoSim.start(kit.system(), SimSettings.from(config.getConfig("nemo-sim"))).toCompletableFuture().get(30, TimeUnit.SECONDS);
    bootstrap = TestKafka.bootstrapServers();
    topics = Topics.withPrefix(TestKafka.uniqueName("w"));
    TopicSetup.ensure(bootstrap, topics, 3, (short) 1);
    groupId = TestKafka.uniqueName("workers");
    WorkerSettings settings = WorkerSettings.from(config).withKafka(bootstrap, topics).withGroupId(groupId);
    NemoClient client = new NemoClient(kit.system(), NemoSettings.from(config.getConfig("reelay.nemo")).withBaseUrl(sim.baseUrl()),
        WorkerMetrics.registry(kit.system()));
    worker = Worker.start(kit.system(), settings, client);
    producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringSerializer(), new StringSerializer());
  }

  void publish(String key, String json) throws Exception {
    producer.send(new ProducerRecord<>(topics.requests(), key, json)).get(30, TimeUnit.SECONDS);
  }

  /** Publishes {@code {"v":1,"requestId":id,"sessionKey":session, ...fields}}. */
  void request(String session, String id, String fields) throws Exception {
    publish(session, "{\"v\":1,\"requestId\":\"" + id + "\",\"sessionKey\":\"" + session + "\"" + (fields.isEmpty() ? "" : "," + fields) + "}");
  }

  /** All events of {@code requestId}, in order, once its terminal event is there. */
  List<Event> eventsUntilTerminal(String requestId) {
    List<Event> mine = new ArrayList<>();
    readUntil(topics.events(), records -> {
      mine.clear();
      for (ConsumerRecord<String, byte[]> r : records) {
        if (requestId.equals(requestIdOf(r))) {
          mine.add(Json.read(r.value(), Event.class));
        }
      }
      return mine.stream().anyMatch(Event::isTerminal);
    });
    return mine;
  }

  /** The first terminal event of each of {@code requestIds}, once all of them have one. */
  Map<String, Event> terminalEvents(Collection<String> requestIds) {
    Map<String, Event> ends = new HashMap<>();
    readUntil(topics.events(), records -> {
      ends.clear();
      for (ConsumerRecord<String, byte[]> r : records) {
        if (requestIds.contains(requestIdOf(r))) {
          Event e = Json.read(r.value(), Event.class);
          if (e.isTerminal()) {
            ends.putIfAbsent(e.requestId(), e);
          }
        }
      }
      return ends.size() == requestIds.size();
    });
    return ends;
  }

  /** The requestId of an events or completions record, keyed {@code tenant/requestId}. */
  static String requestIdOf(ConsumerRecord<String, ?> r) {
    return r.key() == null ? null : r.key().substring(r.key().lastIndexOf('/') + 1); // a requestId holds no '/'
  }

  List<ConsumerRecord<String, byte[]>> readUntil(String topic, Predicate<List<ConsumerRecord<String, byte[]>>> done) {
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

  /** Every record {@code topic} holds now, read to its end offsets. */
  List<ConsumerRecord<String, byte[]>> readAll(String topic) {
    Map<String, Object> props = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> tps = c.partitionsFor(topic).stream().map(i -> new TopicPartition(topic, i.partition())).toList();
      c.assign(tps);
      c.seekToBeginning(tps);
      Map<TopicPartition, Long> end = c.endOffsets(tps);
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError(topic + " not read to its end within 90 s");
        }
        c.poll(Duration.ofMillis(200)).forEach(records::add);
      }
    }
    return records;
  }

  void faults(String json) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/faults"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new AssertionError("faults refused: " + r.body());
    }
  }

  JsonNode stats() throws Exception {
    return Json.mapper().readTree(http.send(HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/stats")).build(),
        HttpResponse.BodyHandlers.ofString()).body());
  }

  @Override
  public void close() throws Exception {
    producer.close();
    worker.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
    sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
    kit.shutdownTestKit();
  }
}
