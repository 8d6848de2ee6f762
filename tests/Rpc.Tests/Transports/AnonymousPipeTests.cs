using System.Diagnostics;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>A parent and the child it started, talking over anonymous pipes.</summary>
public sealed class AnonymousPipeTests
{
    private static ProcessStartInfo ChildStartInfo()
    {
        var info = new ProcessStartInfo("dotnet");
        info.ArgumentList.Add(TestPaths.TestServerDll);
        info.ArgumentList.Add("--parent-pipes");
        return info;
    }

    [Fact]
    public async Task Child_ServesEveryCallKind()
    {
        await using var channel = RpcChannel.ForChildProcess(ChildStartInfo());
        var client = new TestService.TestServiceClient(channel);

        var unary = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 70_000 }).ResponseAsync.DefaultTimeout();
        Assert.Equal(70_000, unary.Payload.Body.Length);

        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(new ResponseParameters { Size = 3 });
        request.ResponseParameters.Add(new ResponseParameters { Size = 5 });
        using var streaming = client.StreamingOutputCall(request);
        var sizes = new List<int>();
        while (await streaming.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            sizes.Add(streaming.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.Equal([3, 5], sizes);

        using var duplex = client.FullDuplexCall();
        var ping = new StreamingOutputCallRequest();
        ping.ResponseParameters.Add(new ResponseParameters { Size = 7 });
        await duplex.RequestStream.WriteAsync(ping).DefaultTimeout();
        Assert.True(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
        await duplex.RequestStream.CompleteAsync().DefaultTimeout();
        Assert.False(await duplex.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
    }

    [Fact]
    public async Task ChildExits_CallsFailWithUnavailable()
    {
        await using var channel = RpcChannel.ForChildProcess(ChildStartInfo());
        var client = new TestService.TestServiceClient(channel);
        using var call = client.SleepAsync(new SleepRequest { Key = "child", Millis = 30_000 });
        await call.ResponseHeadersAsync.DefaultTimeout();

        channel.ChildProcess!.Kill();
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        var next = await Assert.ThrowsAsync<RpcException>(() => client.EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, next.StatusCode);
    }

    [Fact]
    public async Task DisposingChannel_EndsChildGracefully()
    {
        var channel = RpcChannel.ForChildProcess(ChildStartInfo());
        var child = channel.ChildProcess!;
        await new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout();
        var stopwatch = Stopwatch.StartNew();
        await channel.DisposeAsync().AsTask().DefaultTimeout();
        Assert.True(child.HasExited);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"The child took {stopwatch.Elapsed} to go, so it was killed rather than ending by itself.");
    }

    [Fact]
    public async Task DisposingUnusedChannel_EndsChild()
    {
        var channel = RpcChannel.ForChildProcess(ChildStartInfo());
        var child = channel.ChildProcess!;
        await channel.DisposeAsync().AsTask().DefaultTimeout();
        Assert.True(child.HasExited);
    }
}
