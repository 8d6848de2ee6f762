using System.Buffers.Binary;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.Tests.Protocol;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>A peer that does not speak the protocol gets a clear error, and nobody else notices.</summary>
public sealed class WrongPeerTests
{
    [Fact]
    public async Task RpcClient_AgainstNonRpcServer_UnavailableNamingTheProblem()
    {
        var path = TestPaths.NewSocketPath();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var answering = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync();
            await accepted.SendAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
            await Task.Delay(2000);
        });

        try
        {
            using var channel = RpcChannel.ForAddress("unix://" + path);
            var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
            Assert.Contains("HTTP", ex.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
            await answering.DefaultTimeout();
        }
    }

    [Fact]
    public async Task RpcClient_AgainstSilentServer_UnavailableAfterConnectTimeout()
    {
        var path = TestPaths.NewSocketPath();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        try
        {
            using var channel = RpcChannel.ForAddress("unix://" + path, new RpcChannelOptions { ConnectTimeout = TimeSpan.FromMilliseconds(300) });
            var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task MalformedFrame_ClosesOnlyThatConnection_WithGoAway()
    {
        await using var server = await InProcessServer.StartAsync();
        using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);
        using var running = client.SleepAsync(new SleepRequest { Key = "bystander", Millis = 500 });
        await running.ResponseHeadersAsync.DefaultTimeout();

        using var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await raw.ConnectAsync(new UnixDomainSocketEndPoint(server.SocketPath));
        var hello = new byte[8 + FrameHeader.Size];
        "RPCIPC"u8.CopyTo(hello);
        BinaryPrimitives.WriteUInt16BigEndian(hello.AsSpan(6), 1);
        new FrameHeader(0, FrameType.Settings, 0, 0).Write(hello.AsSpan(8));
        await raw.SendAsync(hello);
        await raw.SendAsync(FrameCodecTests.Frame((FrameType)0x77, 0, 1, [1, 2, 3]));

        var received = await ReadToEndAsync(raw).DefaultTimeout();
        Assert.Contains("Unknown frame type 0x77", System.Text.Encoding.UTF8.GetString(received), StringComparison.Ordinal);

        await running.ResponseAsync.DefaultTimeout();
        await client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    [Fact]
    public async Task GarbageInsteadOfPreface_ConnectionClosed_ServerKeepsServing()
    {
        await using var server = await InProcessServer.StartAsync();
        using var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await raw.ConnectAsync(new UnixDomainSocketEndPoint(server.SocketPath));
        await raw.SendAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        await ReadToEndAsync(raw).DefaultTimeout();

        using var channel = RpcChannel.ForAddress(server.Address);
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        var all = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            all.Write(buffer, 0, read);
        }

        return all.ToArray();
    }
}
