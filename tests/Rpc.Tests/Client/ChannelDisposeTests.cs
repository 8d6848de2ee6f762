using System.Diagnostics;
using System.Net.Sockets;
using Google.Protobuf;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.Tests.Server;
using Xunit;

namespace Rpc.Tests.Client;

/// <summary>Disposing a channel is bounded even when the server has stopped reading.</summary>
public sealed class ChannelDisposeTests
{
    [Fact]
    public async Task DisposeAsync_PeerStoppedReading_CompletesWithinBound()
    {
        var path = TestPaths.NewSocketPath();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        try
        {
            var options = new RpcChannelOptions();
            var channel = RpcChannel.ForAddress("unix://" + path, options);
            var call = new TestService.TestServiceClient(channel).StreamingInputCall();
            // The server answers the handshake, then never reads another byte.
            using var server = await listener.AcceptAsync().DefaultTimeout();
            await server.SendAsync(RawFrames.Handshake()).DefaultTimeout();

            // Within the stream's window but far more than the socket buffers hold: it stays queued.
            var payload = new Payload { Body = ByteString.CopyFrom(new byte[900 * 1024]) };
            await call.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = payload }).DefaultTimeout();

            var watch = Stopwatch.StartNew();
            await channel.DisposeAsync().DefaultTimeout();

            var bound = options.CloseTimeout + options.CloseTimeout + TimeSpan.FromSeconds(5);
            Assert.True(watch.Elapsed < bound, $"Dispose took {watch.Elapsed}.");
            call.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
