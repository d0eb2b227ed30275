package io.reelay.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;

class TestKafkaTest {

  @Test
  void oneBrokerPerJvmReusedByEveryCaller() throws Exception {
    String first = TestKafka.bootstrapServers();
    assertThat(TestKafka.bootstrapServers()).isEqualTo(first);

    String topic = TestKafka.uniqueName("shared");
    try (Admin admin = EmbeddedKafkaTest.admin(first)) {
      admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }
    EmbeddedKafkaTest.produce(first, topic, 5);
    assertThat(EmbeddedKafkaTest.consume(first, topic, 5)).hasSize(5);
  }

  @Test
  void theDockerBrokerGetsTheEmbeddedOnesBehaviourAndVersion() throws Exception {
    java.util.Map<String, String> env = DockerKafka.environment();
    assertThat(env).hasSameSizeAs(EmbeddedKafka.BEHAVIOUR)
        .containsEntry("KAFKA_GROUP_CONSUMER_SESSION_TIMEOUT_MS", "10000")
        .containsEntry("KAFKA_GROUP_CONSUMER_MIN_SESSION_TIMEOUT_MS", "6000")
        .containsEntry("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false");
    assertThat(EmbeddedKafka.serverProperties(java.nio.file.Path.of("unused"), 1, 2)).containsAllEntriesOf(EmbeddedKafka.BEHAVIOUR);
    java.util.regex.Matcher version = java.util.regex.Pattern.compile("<kafka.version>([^<]+)</kafka.version>")
        .matcher(java.nio.file.Files.readString(java.nio.file.Path.of("../../pom.xml")));
    assertThat(version.find()).isTrue();
    assertThat(DockerKafka.IMAGE).isEqualTo("apache/kafka:" + version.group(1));
  }

  @Test
  void uniqueNamesAreUniqueAndLegalTopicNames() {
    String a = TestKafka.uniqueName("t");
    String b = TestKafka.uniqueName("t");
    assertThat(a).isNotEqualTo(b).matches("[A-Za-z0-9._-]+").startsWith("t-");
  }
}
