package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Topics;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Destinations are independent: a receiver that accepts the connection and never answers (a black
 * hole) holds only its own lane, while the webhooks of another receiver, read after it from the same
 * partition, go out at once; the black hole's records are committed only once they were given up.
 */
class WebhookDestinationsTest {

  private static final ActorTestKit kit = ActorTestKit.create();
  private static final Duration BLACK_HOLE_TIMEOUT = Duration.ofSeconds(8);

  private HttpServer receiver;
  private final Set<String> delivered = ConcurrentHashMap.newKeySet();
  private ServerSocket blackHole;
  private final List<Socket> swallowed = new CopyOnWriteArrayList<>();
  private Admin admin;
  private KafkaProducer<String, String> producer;
  private WebhookDispatcher dispatcher;
  private String topic;
  private String group;

  @BeforeEach
  void start() throws Exception {
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext("/", ex -> {
      ex.getRequestBody().readAllBytes();
      delivered.add(ex.getRequestURI().getPath());
      ex.sendResponseHeaders(204, -1);
      ex.close();
    });
    receiver.start();
    blackHole = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
    Thread accepting = new Thread(() -> {
      try {
        while (true) {
          swallowed.add(blackHole.accept()); // accepted, never read, never answered
        }
      } catch (IOException closed) {
        // the test is over
      }
    }, "black-hole");
    accepting.setDaemon(true);
    accepting.start();

    topic = TestKafka.uniqueName("hooks") + ".completions";
    group = TestKafka.uniqueName("webhooks");
    admin = Admin.create(Map.of("bootstrap.servers", TestKafka.bootstrapServers()));
    admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
    producer = new KafkaProducer<>(Map.of("bootstrap.servers", TestKafka.bootstrapServers()), new StringSerializer(),
        new StringSerializer());
    // the default window (256), 10 POSTs at once per destination, 1 attempt each: a black-holed webhook
    // is given up after the timeout; unsigned, to the receivers on 127.0.0.1
    WebhookSettings settings = new WebhookSettings(true, group, WebhookSecrets.none(), true,
        WebhookTargets.parse("127.0.0.1/32"), 256, 10, BLACK_HOLE_TIMEOUT, 1, Duration.ofMillis(100), Duration.ofMillis(400),
        Map.of("group.protocol", "consumer", "auto.offset.reset", "earliest"));
    dispatcher = WebhookDispatcher.start(kit.system(), settings, TestKafka.bootstrapServers(), topic);
  }

  @AfterEach
  void stop() throws Exception {
    dispatcher.stop().toCompletableFuture().get(20, TimeUnit.SECONDS);
    producer.close();
    admin.close();
    receiver.stop(0);
    blackHole.close();
    for (Socket s : swallowed) {
      s.close();
    }
  }

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void aReceiverThatNeverAnswersDoesNotDelayTheOthers() throws Exception {
    publish("r-warm", url(receiver.getAddress().getPort(), "/warm"));
    await("the dispatcher consumes").atMost(Duration.ofSeconds(60)).until(() -> delivered.contains("/warm"));

    // 20 webhooks to the black hole (more than its lane runs at once, and more than the 16 the dispatcher
    // used to have in flight in all), then two to the good receiver, all on the same partition
    long firstHung = publish("r-hole-1", url(blackHole.getLocalPort(), "/hook"));
    for (int i = 2; i <= 20; i++) {
      publish("r-hole-" + i, url(blackHole.getLocalPort(), "/hook"));
    }
    await("the black hole holds connections").atMost(Duration.ofSeconds(5)).until(() -> !swallowed.isEmpty());
    long last = publish("r-ok-1", url(receiver.getAddress().getPort(), "/ok-1"));
    publish("r-ok-2", url(receiver.getAddress().getPort(), "/ok-2"));

    // well before the black hole's webhooks time out (8 s)
    await("the good receiver's webhooks, while the black hole hangs").atMost(Duration.ofSeconds(3))
        .until(() -> delivered.containsAll(List.of("/ok-1", "/ok-2")));
    assertThat(committed()).as("nothing committed past a webhook still in delivery").isLessThanOrEqualTo(firstHung);
    assertThat(delivered).noneMatch(path -> path.startsWith("/hook"));

    // once the black hole's webhooks are given up (two rounds of 10, 8 s each), everything is committed
    await("commits catch up after the black hole was given up").atMost(Duration.ofSeconds(60))
        .until(() -> committed() == last + 2);
  }

  private static String url(int port, String path) {
    return "http://127.0.0.1:" + port + path;
  }

  /** Publishes a completion with seq 1 and its callback URL; its offset. */
  private long publish(String requestId, String callbackUrl) throws Exception {
    ProducerRecord<String, String> r =
        new ProducerRecord<>(topic, 0, requestId, "{\"requestId\":\"" + requestId + "\",\"seq\":1,\"state\":\"COMPLETED\"}");
    r.headers().add(Topics.CALLBACK_URL_HEADER, callbackUrl.getBytes(StandardCharsets.UTF_8));
    RecordMetadata m = producer.send(r).get(30, TimeUnit.SECONDS);
    return m.offset();
  }

  /** The group's committed offset of the partition (0: none yet). */
  private long committed() throws Exception {
    Map<TopicPartition, OffsetAndMetadata> offsets =
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
    OffsetAndMetadata o = offsets.get(new TopicPartition(topic, 0));
    return o == null ? 0 : o.offset();
  }
}
