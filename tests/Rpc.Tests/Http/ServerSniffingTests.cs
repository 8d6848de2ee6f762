using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Http;

/// <summary>
/// One socket, both protocols: a unix:// or tcp:// listener serves standard gRPC clients (told by
/// HTTP/2's client preface) and Rpc clients on the same address.
/// </summary>
public sealed class ServerSniffingTests
{
    [Fact]
    public async Task UnixSocket_GrpcChannelAndRpcChannel_BothServedOnOnePath()
    {
        var path = TestPaths.NewSocketPath();
        await using var server = await ServerHttpTests.StartAsync("unix://" + path);

        using var grpc = UnixGrpcChannel(path);
        var standard = await new TestService.TestServiceClient(grpc).UnaryCallAsync(new SimpleRequest { ResponseSize = 3 }).ResponseAsync.DefaultTimeout();
        await using var rpc = RpcChannel.ForAddress("unix://" + path);
        var ours = await new TestService.TestServiceClient(rpc).UnaryCallAsync(new SimpleRequest { ResponseSize = 4 }).ResponseAsync.DefaultTimeout();

        Assert.Equal(3, standard.Payload.Body.Length);
        Assert.Equal(4, ours.Payload.Body.Length);
        // Either protocol, the handler sees the peer our transport knows (its pid and uid).
        var self = $"pid={Environment.ProcessId},";
        Assert.StartsWith("unix:", standard.Peer, StringComparison.Ordinal);
        Assert.Contains(self, standard.Peer, StringComparison.Ordinal);
        Assert.Equal(ours.Peer, standard.Peer);
    }

    [Fact]
    public async Task UnixSocket_GrpcChannelStreamingAndStatus_BehaveAsOverHttp()
    {
        var path = TestPaths.NewSocketPath();
        await using var server = await ServerHttpTests.StartAsync("unix://" + path);
        using var grpc = UnixGrpcChannel(path);
        var client = new TestService.TestServiceClient(grpc);

        using var duplex = client.FullDuplexCall();
        foreach (var size in new[] { 1, 70_000, 5 })
        {
            var request = new StreamingOutputCallRequest();
            request.ResponseParameters.Add(new ResponseParameters { Size = size });
            await duplex.RequestStream.WriteAsync(request).DefaultTimeout();
            Assert.True(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
            Assert.Equal(size, duplex.ResponseStream.Current.Payload.Body.Length);
        }

        await duplex.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryCallAsync(new SimpleRequest
        {
            ResponseStatus = new EchoStatus { Code = (int)StatusCode.PermissionDenied, Message = "not you" },
        }).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Equal("not you", ex.Status.Detail);
    }

    [Fact]
    public async Task TcpListener_GrpcChannelAndRpcChannel_BothServedOnOnePort()
    {
        await using var server = await ServerHttpTests.StartAsync("tcp://127.0.0.1:0");
        var address = server.BoundAddresses[0];
        var port = new Uri(address.Replace("tcp://", "http://", StringComparison.Ordinal)).Port;

        using var grpc = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var standard = await new TestService.TestServiceClient(grpc).UnaryCallAsync(new SimpleRequest { ResponseSize = 2 }).ResponseAsync.DefaultTimeout();
        await using var rpc = RpcChannel.ForAddress(address);
        var ours = await new TestService.TestServiceClient(rpc).UnaryCallAsync(new SimpleRequest { ResponseSize = 5 }).ResponseAsync.DefaultTimeout();

        Assert.Equal(2, standard.Payload.Body.Length);
        Assert.Equal(5, ours.Payload.Body.Length);
    }

    [Fact]
    public async Task UnixSocket_GarbageFirstBytes_RefusedByOurProtocolServerStillServes()
    {
        var path = TestPaths.NewSocketPath();
        await using var server = await ServerHttpTests.StartAsync("unix://" + path);

        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path)).DefaultTimeout();
            // Starts like HTTP/2's preface, then differs: not HTTP/2, so our protocol answers and refuses it.
            await socket.SendAsync("PRI * HTTP/1.1\r\n\r\n"u8.ToArray()).DefaultTimeout();
            var received = await ReadUntilClosedAsync(socket).DefaultTimeout();
            Assert.StartsWith("RPCIPC", System.Text.Encoding.ASCII.GetString(received), StringComparison.Ordinal);
        }

        await using var rpc = RpcChannel.ForAddress("unix://" + path);
        await new TestService.TestServiceClient(rpc).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task Shutdown_SniffedHttp2CallInFlight_FinishesThenServerStops()
    {
        var path = TestPaths.NewSocketPath();
        var server = await ServerHttpTests.StartAsync("unix://" + path);
        using var grpc = UnixGrpcChannel(path);
        var client = new TestService.TestServiceClient(grpc);
        using var call = client.SleepAsync(new SleepRequest { Key = Guid.NewGuid().ToString(), Millis = 500 });
        await call.ResponseHeadersAsync.DefaultTimeout();
        var stopping = server.ShutdownAsync();
        await call.ResponseAsync.DefaultTimeout();
        await stopping.DefaultTimeout();
        Assert.False(File.Exists(path), "The server left its socket behind.");
    }

    /// <summary>grpc-dotnet's recipe for a Unix socket: any http address, and a ConnectCallback that dials the socket.</summary>
    internal static GrpcChannel UnixGrpcChannel(string path) => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        },
    });

    private static async Task<byte[]> ReadUntilClosedAsync(Socket socket)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            received.AddRange(buffer.AsSpan(0, read));
        }

        return [.. received];
    }
}
