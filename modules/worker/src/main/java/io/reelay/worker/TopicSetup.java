package io.reelay.worker;

import io.reelay.protocol.Topics;
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
 * Creates Reelay's topics when they are missing. {@code requests} and {@code sessions} get the same
 * partition count (co-partitioned by session key); {@code sessions} is compacted.
 */
public final class TopicSetup {

  private TopicSetup() {}

  public static void ensure(String bootstrap, Topics topics, int partitions, short replication) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    try (Admin admin = Admin.create(p)) {
      List<NewTopic> wanted = new ArrayList<>();
      wanted.add(new NewTopic(topics.requests(), partitions, replication));
      wanted.add(new NewTopic(topics.events(), partitions, replication));
      wanted.add(new NewTopic(topics.completions(), partitions, replication));
      wanted.add(
          new NewTopic(topics.sessions(), partitions, replication)
              .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)));
      wanted.add(new NewTopic(topics.dlq(), partitions, replication));
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
