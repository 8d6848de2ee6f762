using Rpc.Packaging.Tests.Infrastructure;
using Xunit;

namespace Rpc.Packaging.Tests;

/// <summary>samples/TelemetryConsole: Rpc's spans and metrics as the OpenTelemetry SDK's console exporter prints them.</summary>
public sealed class TelemetryConsoleTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TelemetryConsole_CallsOverUnix_PrintsClientAndServerSpansOfOneTraceAndCallDurations()
    {
        var dll = Repository.PathOf("samples", "TelemetryConsole", "bin", Repository.Configuration, "net10.0", "TelemetryConsole.dll");
        var socket = Path.Combine(Path.GetTempPath(), $"rpctel-{Guid.NewGuid():N}"[..19] + ".sock");
        try
        {
            var run = (await Dotnet.RunAsync(Repository.Root, RunTimeout, dll, $"unix://{socket}")).EnsureSuccess();

            var spans = Spans(run.Output);
            var client = Assert.Single(spans, s => s["DisplayName"] == "calculator.Calculator/Add" && s["Kind"] == "Client");
            var server = Assert.Single(spans, s => s["DisplayName"] == "calculator.Calculator/Add" && s["Kind"] == "Server");
            Assert.Equal(client["TraceId"], server["TraceId"]);
            Assert.Equal(client["SpanId"], server["ParentSpanId"]);

            var failed = Assert.Single(spans, s => s["DisplayName"] == "calculator.Calculator/Divide" && s["Kind"] == "Client");
            Assert.Equal("Error", failed["StatusCode"]);
            Assert.Contains("error.type: INVALID_ARGUMENT", run.Output, StringComparison.Ordinal);

            Assert.Contains("Metric Name: rpc.client.call.duration,", run.Output, StringComparison.Ordinal);
            Assert.Contains("Metric Name: rpc.server.call.duration,", run.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(socket);
        }
    }

    /// <summary>
    /// The console exporter's spans: each starts at its <c>Activity.TraceId:</c> line; its
    /// <c>Activity.Name: value</c> lines (and the <c>StatusCode:</c> line) become Name → value.
    /// </summary>
    private static List<Dictionary<string, string>> Spans(string output)
    {
        var spans = new List<Dictionary<string, string>>();
        Dictionary<string, string>? span = null;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("Activity.TraceId:", StringComparison.Ordinal))
            {
                span = [];
                spans.Add(span);
            }

            if (span is null || line.StartsWith(' ') || line.StartsWith('\t'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                var key = line[..colon];
                key = key.StartsWith("Activity.", StringComparison.Ordinal) ? key["Activity.".Length..] : key;
                span[key] = line[(colon + 1)..].Trim();
            }
        }

        return spans;
    }
}
