package io.reelay.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedKafkaTest {

  @TempDir Path dataDir;

  @Test
  void producesAndConsumesOnAThreePartitionTopicAndKeepsItAcrossARestart() throws Exception {
    String topic = TestKafka.uniqueName("embedded");
    String clusterId;
    try (EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Settings.of(dataDir))) {
      clusterId = kafka.clusterId();
      assertThat(kafka.bootstrapServers()).startsWith("127.0.0.1:");
      try (Admin admin = admin(kafka.bootstrapServers())) {
        admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get(30, TimeUnit.SECONDS);
      }
      produce(kafka.bootstrapServers(), topic, 30);
      assertThat(consume(kafka.bootstrapServers(), topic, 30)).hasSize(30);
    }

    // same data dir, new ports: the cluster, the topic and its records are still there
    try (EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Settings.of(dataDir))) {
      assertThat(kafka.clusterId()).isEqualTo(clusterId);
      try (Admin admin = admin(kafka.bootstrapServers())) {
        Map<String, TopicDescription> d =
            admin.describeTopics(Set.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS);
        assertThat(d.get(topic).partitions()).hasSize(3);
      }
      assertThat(consume(kafka.bootstrapServers(), topic, 30)).hasSize(30);
    }
  }

  @Test
  void refusesAnUnformattedDirWhenFormattingIsOff() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> EmbeddedKafka.start(new EmbeddedKafka.Settings(dataDir.resolve("empty"), 0, 0, false)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not formatted");
  }

  static Admin admin(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    return Admin.create(p);
  }

  static void produce(String bootstrap, String topic, int n) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
      for (int i = 0; i < n; i++) {
        producer.send(new ProducerRecord<>(topic, "key-" + i, "value-" + i)).get(30, TimeUnit.SECONDS);
      }
    }
  }

  static List<ConsumerRecord<String, String>> consume(String bootstrap, String topic, int expected) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, TestKafka.uniqueName("g"));
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    List<ConsumerRecord<String, String>> out = new ArrayList<>();
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (out.size() < expected && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(out::add);
      }
    }
    return out;
  }
}
