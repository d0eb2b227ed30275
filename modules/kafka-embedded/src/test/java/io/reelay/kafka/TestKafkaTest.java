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
  void uniqueNamesAreUniqueAndLegalTopicNames() {
    String a = TestKafka.uniqueName("t");
    String b = TestKafka.uniqueName("t");
    assertThat(a).isNotEqualTo(b).matches("[A-Za-z0-9._-]+").startsWith("t-");
  }
}
