// KafkaAdmin is a tiny admin helper for scripts/kafka/broker.sh. It is run
// with Java's single-file source launcher against the broker's own jars, so
// it needs no build and no tool outside Maven Central.
//
// Usage:
//   java -cp 'LIBS/*' KafkaAdmin.java ready BOOTSTRAP TIMEOUT_MS
//   java -cp 'LIBS/*' KafkaAdmin.java create-topic BOOTSTRAP NAME PARTITIONS [KEY=VALUE ...]
//
// "ready" succeeds once the broker answers a metadata request (DescribeCluster)
// and lists topics; "create-topic" creates a topic with replication factor 1
// and succeeds if it already exists. Exit code 0 on success, 1 on failure,
// 2 on bad usage.

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

public class KafkaAdmin {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            usage();
        }
        switch (args[0]) {
            case "ready" -> System.exit(ready(args));
            case "create-topic" -> System.exit(createTopic(args));
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: KafkaAdmin ready BOOTSTRAP TIMEOUT_MS | "
                + "create-topic BOOTSTRAP NAME PARTITIONS [KEY=VALUE ...]");
        System.exit(2);
    }

    private static Admin connect(String bootstrap, int timeoutMs) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.min(timeoutMs, 5000));
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeoutMs);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "slhf-broker-sh");
        return Admin.create(p);
    }

    // ready asks for the cluster's nodes and topics until both answer or the
    // deadline passes; a broker that accepts TCP but has no metadata yet fails.
    private static int ready(String[] args) throws InterruptedException {
        if (args.length != 3) {
            usage();
        }
        int timeoutMs = Integer.parseInt(args[2]);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        String last = "no answer";
        try (Admin admin = connect(args[1], timeoutMs)) {
            while (System.nanoTime() < deadline) {
                try {
                    int nodes = admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size();
                    String id = admin.describeCluster().clusterId().get(5, TimeUnit.SECONDS);
                    int topics = admin.listTopics().names().get(5, TimeUnit.SECONDS).size();
                    if (nodes > 0) {
                        System.out.printf("ready cluster_id=%s nodes=%d topics=%d%n", id, nodes, topics);
                        return 0;
                    }
                    last = "cluster has no nodes";
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    last = String.valueOf(e.getCause() != null ? e.getCause() : e);
                }
                Thread.sleep(200);
            }
        }
        System.err.println("broker not ready: " + last);
        return 1;
    }

    private static int createTopic(String[] args) throws InterruptedException {
        if (args.length < 4) {
            usage();
        }
        Map<String, String> configs = new HashMap<>();
        for (int i = 4; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            if (kv.length != 2) {
                usage();
            }
            configs.put(kv[0], kv[1]);
        }
        NewTopic topic = new NewTopic(args[2], Integer.parseInt(args[3]), (short) 1).configs(configs);
        try (Admin admin = connect(args[1], 30000)) {
            admin.createTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
            System.out.println("created " + args[2]);
            return 0;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException) {
                System.out.println("exists " + args[2]);
                return 0;
            }
            System.err.println("create topic " + args[2] + ": " + e.getCause());
            return 1;
        } catch (java.util.concurrent.TimeoutException e) {
            System.err.println("create topic " + args[2] + ": timed out");
            return 1;
        }
    }
}
