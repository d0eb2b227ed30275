package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;

/**
 * A dead letter Kafka keeps refusing holds its partition (nothing behind it is committed); after
 * {@code stuck-restart-after} the worker restarts its request source, and once Kafka takes the dead
 * letter again, everything in the partition ends, once, and is committed.
 */
class StuckPartitionTest {

  @Test
  void aDeadLetterKafkaKeepsRefusingRestartsTheRequestSourceAndNothingIsLostOrRunTwice() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of("reelay.worker.stuck-restart-after", "2s"));
        Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, h.bootstrap))) {
      dlqLimit(admin, h, "10"); // every dead letter is now too large for its topic
      String s = "stuck-" + UUID.randomUUID();
      h.request(s, "ok1-" + s, "\"action\":\"credits\"");
      h.request(s, "bad-" + s, "\"action\":\"generate\""); // no text: rejected
      h.request(s, "ok2-" + s, "\"action\":\"credits\"");

      await("the request source restarted", () -> h.worker.restarts() >= 1);
      TopicPartition tp = partitionOf(h, s);
      assertThat(committed(admin, h, tp))
          .as("nothing at or behind the refused dead letter is committed")
          .isLessThanOrEqualTo(1L);

      dlqLimit(admin, h, null); // Kafka takes dead letters again
      List<ConsumerRecord<String, byte[]>> dead = h.readUntil(h.topics.dlq(),
          list -> list.stream().anyMatch(r -> s.equals(r.key())));
      assertThat(dead.stream().filter(r -> s.equals(r.key()))).hasSize(1);
      long end = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get(30, TimeUnit.SECONDS).get(tp).offset();
      await("the partition committed to its end (" + end + ")", () -> committed(admin, h, tp) >= end);

      Map<String, Event> ends = h.terminalEvents(Set.of("ok1-" + s, "bad-" + s, "ok2-" + s));
      assertThat(ends.get("ok1-" + s).state()).isEqualTo(RequestState.COMPLETED);
      assertThat(ends.get("ok2-" + s).state()).isEqualTo(RequestState.COMPLETED);
      assertThat(ends.get("bad-" + s).state()).isEqualTo(RequestState.REJECTED);
      // each request ended once, the restart notwithstanding (the REJECTED waits for its dead letter)
      List<Event> terminals = h.readAll(h.topics.events()).stream()
          .filter(r -> r.key() != null && r.key().endsWith(s))
          .map(r -> Json.read(r.value(), Event.class))
          .filter(Event::isTerminal)
          .toList();
      assertThat(terminals).extracting(Event::requestId).containsExactlyInAnyOrder("ok1-" + s, "bad-" + s, "ok2-" + s);
    }
  }

  private static void dlqLimit(Admin admin, WorkerHarness h, String maxMessageBytes) throws Exception {
    ConfigResource topic = new ConfigResource(ConfigResource.Type.TOPIC, h.topics.dlq());
    ConfigEntry entry = new ConfigEntry(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, maxMessageBytes);
    AlterConfigOp op = new AlterConfigOp(entry, maxMessageBytes == null ? AlterConfigOp.OpType.DELETE : AlterConfigOp.OpType.SET);
    admin.incrementalAlterConfigs(Map.of(topic, (Collection<AlterConfigOp>) List.of(op))).all().get(30, TimeUnit.SECONDS);
  }

  private static TopicPartition partitionOf(WorkerHarness h, String key) {
    ConsumerRecord<String, byte[]> r = h.readUntil(h.topics.requests(), list -> list.stream().anyMatch(x -> key.equals(x.key())))
        .stream().filter(x -> key.equals(x.key())).findFirst().orElseThrow();
    return new TopicPartition(r.topic(), r.partition());
  }

  private static long committed(Admin admin, WorkerHarness h, TopicPartition tp) {
    try {
      OffsetAndMetadata o = admin.listConsumerGroupOffsets(h.groupId).partitionsToOffsetAndMetadata()
          .get(30, TimeUnit.SECONDS).get(tp);
      return o == null ? 0 : o.offset();
    } catch (Exception e) {
      throw new AssertionError("committed offsets of " + h.groupId + " not readable", e);
    }
  }

  private static void await(String what, BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 90 s: " + what);
      }
      Thread.sleep(100);
    }
  }
}
