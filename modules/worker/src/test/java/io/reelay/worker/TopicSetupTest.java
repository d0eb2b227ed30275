package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;

/** The topics a worker creates on the real broker: partitions, compaction and retention as configured; existing topics untouched. */
class TopicSetupTest {

  @Test
  void theLayoutIsReadFromReelayTopics() {
    TopicSetup.Layout layout = TopicSetup.Layout.from(ConfigFactory.load().getConfig("reelay.topics"));
    assertThat(layout).isEqualTo(new TopicSetup.Layout(12, (short) 1, Duration.ofDays(7), Duration.ofDays(30)));
    assertThat(layout.minInsyncReplicas()).isEqualTo("1");
    assertThat(new TopicSetup.Layout(12, (short) 3, Duration.ofDays(7), Duration.ofDays(30)).minInsyncReplicas()).isEqualTo("2");
  }

  @Test
  void everyTopicGetsItsPartitionsCleanupPolicyAndRetention() throws Exception {
    Topics topics = Topics.withPrefix(TestKafka.uniqueName("layout"));
    TopicSetup.ensure(TestKafka.bootstrapServers(), topics,
        new TopicSetup.Layout(3, (short) 1, Duration.ofHours(5), Duration.ofDays(2)));
    try (Admin admin = admin()) {
      Map<String, Integer> partitions = admin.describeTopics(names(topics)).allTopicNames().get(30, TimeUnit.SECONDS)
          .entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().partitions().size()));
      assertThat(partitions).containsOnlyKeys(names(topics)).allSatisfy((name, n) -> assertThat(n).as(name).isEqualTo(3));

      long fiveHours = Duration.ofHours(5).toMillis();
      for (String name : List.of(topics.requests(), topics.events(), topics.completions())) {
        assertThat(config(admin, name, TopicConfig.CLEANUP_POLICY_CONFIG)).as(name).isEqualTo("delete");
        assertThat(config(admin, name, TopicConfig.RETENTION_MS_CONFIG)).as(name).isEqualTo(Long.toString(fiveHours));
      }
      assertThat(config(admin, topics.sessions(), TopicConfig.CLEANUP_POLICY_CONFIG)).isEqualTo("compact");
      assertThat(config(admin, topics.dlq(), TopicConfig.RETENTION_MS_CONFIG))
          .isEqualTo(Long.toString(Duration.ofDays(2).toMillis()));
    }
  }

  @Test
  void aTopicThatExistsIsLeftAsItIs() throws Exception {
    Topics topics = Topics.withPrefix(TestKafka.uniqueName("existing"));
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic(topics.events(), 2, (short) 1)
          .configs(Map.of(TopicConfig.RETENTION_MS_CONFIG, "3600000")))).all().get(30, TimeUnit.SECONDS);
      TopicSetup.ensure(TestKafka.bootstrapServers(), topics, TopicSetup.Layout.of(3, (short) 1));
      assertThat(config(admin, topics.events(), TopicConfig.RETENTION_MS_CONFIG)).isEqualTo("3600000");
      assertThat(admin.describeTopics(List.of(topics.events())).allTopicNames().get(30, TimeUnit.SECONDS)
          .get(topics.events()).partitions()).hasSize(2);
      assertThat(admin.describeTopics(List.of(topics.requests())).allTopicNames().get(30, TimeUnit.SECONDS)
          .get(topics.requests()).partitions()).as("the missing ones are made").hasSize(3);
    }
  }

  private static List<String> names(Topics t) {
    return List.of(t.requests(), t.events(), t.completions(), t.sessions(), t.dlq());
  }

  private static String config(Admin admin, String topic, String key) throws Exception {
    ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    Config c = admin.describeConfigs(List.of(r)).all().get(30, TimeUnit.SECONDS).get(r);
    ConfigEntry e = c.get(key);
    return e == null ? null : e.value();
  }

  private static Admin admin() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
    return Admin.create(p);
  }
}
