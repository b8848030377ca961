import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;

/**
 * Starts one Elasticsearch server-core node from the jars on Maven Central (used by scripts/search-node.sh).
 *
 * <p>The server jars are on the class path (unnamed module). The HTTP/transport layer comes from the
 * {@code transport-netty4} plugin jar, which is laid out here as a module directory and loaded by the server's
 * own {@link PluginsLoader}; its jars (and netty's) must NOT be on the class path (jar-hell check). The
 * {@code modulename} line is dropped from its descriptor so it loads as a classic (non-modular) plugin
 * whose parent is the class-path server. The full bootstrap (org.elasticsearch.bootstrap.Elasticsearch) is
 * skipped: no CLI, no entitlement agent (not published), no native/seccomp setup, no root check.
 *
 * <p>Arguments: HOME PORT CLUSTER_NAME MODULE_JARS(path-separator list).
 */
public final class TechscoutEsNode {
    private static final String LOG4J = String.join("\n",
        "status = error",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n",
        "rootLogger.level = info",
        "rootLogger.appenderRef.console.ref = console",
        "");

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: TechscoutEsNode HOME PORT CLUSTER_NAME MODULE_JARS");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        String cluster = args[2];
        String[] moduleJars = args[3].split(java.io.File.pathSeparator);

        Path config = Files.createDirectories(home.resolve("config"));
        Files.writeString(config.resolve("log4j2.properties"), LOG4J, StandardCharsets.UTF_8);
        Files.writeString(config.resolve("elasticsearch.yml"), "", StandardCharsets.UTF_8);
        Files.createDirectories(home.resolve("plugins"));
        Path netty = Files.createDirectories(home.resolve("modules").resolve("transport-netty4"));
        for (String jar : moduleJars) {
            Path src = Paths.get(jar);
            Files.copy(src, netty.resolve(src.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            if (src.getFileName().toString().startsWith("transport-netty4-")) {
                writeDescriptor(src, netty);
            }
        }

        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", cluster)
            .put("node.name", "techscout-es-1")
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", transportPorts(port))
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();

        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName("techscout-es-1");
        LogConfigurator.setClusterName(cluster);
        Environment env = new Environment(settings, config);
        LogConfigurator.configure(env, true);

        var modules = PluginsLoader.loadModulesBundles(env.modulesDir(), false);
        var plugins = PluginsLoader.loadPluginsBundles(env.pluginsDir(), false);
        PluginsLoader loader = PluginsLoader.createPluginsLoader(modules, plugins, Map.of(), false);

        Node node = new Node(env, loader);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "techscout-es-shutdown"));
        node.start();
        System.out.println("techscout-es-node started on http://127.0.0.1:" + port);
        stopped.await();
    }

    /** Copies META-INF/es-plugins/transport-netty4/plugin-descriptor.properties out of the jar, minus modulename. */
    private static void writeDescriptor(Path jar, Path dir) throws Exception {
        try (FileSystem fs = FileSystems.newFileSystem(URI.create("jar:" + jar.toUri()), Map.of())) {
            Path d = fs.getPath("META-INF/es-plugins/transport-netty4/plugin-descriptor.properties");
            String text;
            try (InputStream in = Files.newInputStream(d)) {
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            text = text.lines().filter(l -> l.startsWith("modulename=") == false).collect(Collectors.joining("\n"));
            Files.writeString(dir.resolve("plugin-descriptor.properties"), text + "\n", StandardCharsets.UTF_8);
        }
    }

    /** Node-to-node port range, kept clear of the HTTP port. */
    private static String transportPorts(int httpPort) {
        return httpPort >= 9300 && httpPort <= 9400 ? "9401-9500" : "9300-9400";
    }
}
