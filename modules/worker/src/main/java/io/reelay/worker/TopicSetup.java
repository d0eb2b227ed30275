package io.reelay.worker;

import io.reelay.protocol.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
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
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating topics", e);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("Kafka at " + bootstrap + " did not answer within 30 s: is it running?", e);
    }
  }
}
