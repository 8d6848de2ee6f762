using System.Net.Sockets;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Faults;

/// <summary>
/// A server process out of file descriptors (EMFILE) keeps its accept loop: it backs off, and
/// serves again once descriptors free up. The server runs with a lowered RLIMIT_NOFILE so a few
/// dozen connections exhaust it.
/// </summary>
public sealed class FileDescriptorExhaustionTests
{
    private const int Headroom = 12;

    [Fact(Timeout = 120_000)]
    public async Task Server_RunsOutOfFileDescriptors_KeepsRunningAndServesOnceTheyFree()
    {
        var path = TestPaths.NewSocketPath();
        await using var server = await ServerProcess.StartAsync("unix://" + path, "--fd-headroom=" + Headroom);

        // Silent peers: each takes a descriptor on the server until it hangs up. Three times the
        // headroom leaves the server's accept() failing EMFILE with connections still queued.
        var silent = new List<Socket>();
        try
        {
            for (var i = 0; i < Headroom * 3; i++)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
                silent.Add(socket);
            }

            // While exhausted, a real call cannot be served (its connection waits in the backlog or
            // fails); what matters is that the server process is still there afterwards.
            await Task.Delay(500);
            Assert.False(server.Process.HasExited, "the server died of EMFILE:" + Environment.NewLine + server.Process.Transcript);
            await Rpc.Tests.Client.Waits.UntilAsync(() => server.Process.Transcript.Contains("could not accept", StringComparison.Ordinal), "the server runs out of descriptors");
        }
        finally
        {
            foreach (var socket in silent)
            {
                socket.Dispose();
            }
        }

        await using var channel = RpcChannel.ForAddress("unix://" + path, new RpcChannelOptions { InitialReconnectBackoff = TimeSpan.FromMilliseconds(50) });
        var client = new TestService.TestServiceClient(channel);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                await client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow.AddSeconds(2)).ResponseAsync.DefaultTimeout();
                break;
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && DateTime.UtcNow < until)
            {
                // The accept loop's backoff (at most 1 s) or closes still in progress: try again.
            }
        }

        Assert.False(server.Process.HasExited);
    }
}
