package io.reelay.worker;

import com.typesafe.config.Config;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates Reelay's topics when they are missing; topics that exist are left as they are (change
 * them with {@code kafka-configs.sh}). Every topic gets the same partition count ({@code requests}
 * and {@code sessions} must be co-partitioned by session key); {@code sessions} is compacted and
 * kept for good, the others are deleted after their retention.
 */
public final class TopicSetup {

  /**
   * How Reelay's topics are made ({@code reelay.topics}).
   *
   * @param retention how long requests, events and completions are kept
   * @param deadLetterRetention how long dead-lettered records are kept
   */
  public record Layout(int partitions, short replication, Duration retention, Duration deadLetterRetention) {

    /** The given partitions and replication, with the default retentions (tests). */
    public static Layout of(int partitions, short replication) {
      return new Layout(partitions, replication, Duration.ofDays(7), Duration.ofDays(30));
    }

    /** @param topics {@code reelay.topics} */
    public static Layout from(Config topics) {
      return new Layout(
          topics.getInt("partitions"),
          (short) topics.getInt("replication-factor"),
          topics.getDuration("retention"),
          topics.getDuration("dead-letter-retention"));
    }

    /**
     * With three replicas or more a write acknowledged by all in-sync replicas is on at least two of
     * them; with fewer, on all there are.
     */
    String minInsyncReplicas() {
      return Integer.toString(Math.min(2, replication));
    }
  }

  private TopicSetup() {}

  public static void ensure(String bootstrap, Topics topics, int partitions, short replication) {
    ensure(bootstrap, topics, Layout.of(partitions, replication));
  }

  public static void ensure(String bootstrap, Topics topics, Layout layout) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    try (Admin admin = Admin.create(p)) {
      Map<String, String> kept = deleteAfter(layout, layout.retention());
      List<NewTopic> wanted = new ArrayList<>();
      wanted.add(topic(topics.requests(), layout, kept));
      wanted.add(topic(topics.events(), layout, kept));
      wanted.add(topic(topics.completions(), layout, kept));
      wanted.add(topic(topics.sessions(), layout, Map.of(
          TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
          TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, layout.minInsyncReplicas())));
      wanted.add(topic(topics.dlq(), layout, deleteAfter(layout, layout.deadLetterRetention())));
      for (var e : admin.createTopics(wanted).values().entrySet()) {
        try {
          e.getValue().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException ex) {
          if (!(ex.getCause() instanceof TopicExistsException)) {
            throw new IllegalStateException("cannot create topic " + e.getKey() + ": " + ex.getCause().getMessage(), ex);
          }
        }
      }
      awaitLeaders(admin, wanted.stream().map(NewTopic::name).toList());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating topics", e);
    } catch (TimeoutException e) {
      throw new IllegalStateException("Kafka at " + bootstrap + " did not answer within 30 s: is it running?", e);
    }
  }

  private static NewTopic topic(String name, Layout layout, Map<String, String> configs) {
    return new NewTopic(name, layout.partitions(), layout.replication()).configs(configs);
  }

  private static Map<String, String> deleteAfter(Layout layout, Duration retention) {
    return Map.of(
        TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE,
        TopicConfig.RETENTION_MS_CONFIG, Long.toString(retention.toMillis()),
        TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, layout.minInsyncReplicas());
  }

  /**
   * Waits until the broker knows a leader for every partition. Writing to a partition created a
   * moment ago can fail with NOT_LEADER_OR_FOLLOWER, and an idempotent producer whose first batch
   * failed that way while later ones succeeded then retries it forever (OUT_OF_ORDER_SEQUENCE_NUMBER).
   */
  private static void awaitLeaders(Admin admin, List<String> names) throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try {
        boolean ready = admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS).values().stream()
            .flatMap(d -> d.partitions().stream())
            .allMatch(p -> p.leader() != null && !p.leader().isEmpty());
        if (ready) {
          return;
        }
      } catch (ExecutionException notYetKnown) {
        // UnknownTopicOrPartition while the broker catches up with the controller: ask again
      }
      if (System.nanoTime() > deadline) {
        throw new TimeoutException("partitions of " + names + " still have no leader");
      }
      Thread.sleep(100);
    }
  }
}
