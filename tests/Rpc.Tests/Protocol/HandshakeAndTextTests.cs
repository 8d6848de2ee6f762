using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Issue 8 item 19: a refused handshake says why; text metadata is printable ASCII on both sides.</summary>
public sealed class HandshakeAndTextTests
{
    private static OutgoingFrames Start(Metadata? headers = null) => new() { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout, Headers = headers };

    private static Metadata Accented => new() { { "x-name", "Zoë" } };

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "HTTP")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/2")]
    [InlineData("RPCIPC\0\u0007", "version 7")]
    public async Task StartAsync_WrongPeer_SendsGoAwayNamingTheFault(string sent, string named)
    {
        var (clientTransport, serverTransport) = InMemoryConnection.CreatePair();
        var server = new MultiplexedConnection(serverTransport, new ConnectionOptions(), new ConnectionPair.Acceptor(null), NullLogger.Instance);
        var output = ((Rpc.Transports.ITransportConnection)clientTransport).Transport.Output;
        await output.WriteAsync(Encoding.ASCII.GetBytes(sent)).AsTask().DefaultTimeout();

        var refused = await Assert.ThrowsAsync<ProtocolException>(() => server.StartAsync(CancellationToken.None).DefaultTimeout());
        Assert.Contains(named, refused.Message, StringComparison.Ordinal);
        await server.DisposeAsync().AsTask().DefaultTimeout();

        var goAway = await ReadGoAwayAsync(((Rpc.Transports.ITransportConnection)clientTransport).Transport.Input);
        Assert.NotNull(goAway);
        Assert.Equal(StatusCode.Internal, goAway.Value.Status.StatusCode);
        Assert.Contains(named, goAway.Value.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_BadSettings_SendsGoAwayNamingTheSetting()
    {
        var (clientTransport, serverTransport) = InMemoryConnection.CreatePair();
        var server = new MultiplexedConnection(serverTransport, new ConnectionOptions(), new ConnectionPair.Acceptor(null), NullLogger.Instance);
        var output = ((Rpc.Transports.ITransportConnection)clientTransport).Transport.Output;
        Preface.Write(output);
        FrameWriter.WriteSettings(output, new ConnectionSettings { MaxFrameSize = 10 });
        await output.FlushAsync().AsTask().DefaultTimeout();

        await Assert.ThrowsAsync<ProtocolException>(() => server.StartAsync(CancellationToken.None).DefaultTimeout());
        await server.DisposeAsync().AsTask().DefaultTimeout();
        var goAway = await ReadGoAwayAsync(((Rpc.Transports.ITransportConnection)clientTransport).Transport.Input);
        Assert.Contains("MaxFrameSize", goAway!.Value.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_CallStartWithNonAsciiValue_FailsCallBeforeSending()
    {
        await using var pair = await ConnectionPair.StartAsync();
        var stream = pair.Client.CreateStream();
        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.SendAsync(Start(Accented)).DefaultTimeout());
        Assert.Equal(StatusCode.Internal, failure.Status.StatusCode);
        Assert.Contains("'x-name'", failure.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0u, stream.Id);

        // Binary values carry any bytes; the connection goes on.
        var next = pair.Client.CreateStream();
        await next.SendAsync(Start(new Metadata { { "x-name-bin", Encoding.UTF8.GetBytes("Zoë") } })).DefaultTimeout();
        var received = await pair.Calls.NextAsync();
        Assert.Equal(1u, received.Id);
    }

    [Fact]
    public async Task SendAsync_ResponseHeadersOrTrailersWithNonAsciiValue_FailOnlyThatCall()
    {
        await using var pair = await ConnectionPair.StartAsync();
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(Start()).DefaultTimeout();
        var serverStream = await pair.Calls.NextAsync();
        var failure = await Assert.ThrowsAsync<StreamResetException>(() => serverStream.SendAsync(new OutgoingFrames { SendHeaders = true, Headers = Accented }).DefaultTimeout());
        Assert.Equal(StatusCode.Internal, failure.Status.StatusCode);

        var second = pair.Client.CreateStream();
        await second.SendAsync(Start()).DefaultTimeout();
        var secondServer = await pair.Calls.NextAsync();
        await secondServer.SendAsync(new OutgoingFrames { TrailersStatus = Status.DefaultSuccess, Trailers = Accented }).DefaultTimeout();
        Assert.Null(await second.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Internal, second.Trailers!.Value.Status.StatusCode);
        Assert.Contains("printable ASCII", second.Trailers!.Value.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallStart_ReceivedNonAsciiValue_IsProtocolError()
    {
        await using var peer = await RawProtocolPeer.StartAsync(new ConnectionOptions());
        var headers = new Metadata { { "x-name", "Zoe" } };
        await peer.SendAsync(w =>
        {
            var writer = new ArrayBufferWriter<byte>();
            FrameWriter.WriteCallStart(writer, 1, "/s/m", CallStart.NoTimeout, headers);
            var frame = writer.WrittenSpan.ToArray();
            frame[^1] = 0xEB; // 'e' becomes a Latin-1 byte a UTF-8 sender would never produce alone
            w.Write(frame);
        });

        var goAway = await peer.ReadUntilAsync(FrameType.GoAway);
        Assert.NotNull(goAway);
        Assert.Contains("printable ASCII", PayloadCodec.ReadGoAway(new ReadOnlySequence<byte>(goAway.Value.Payload)).Status.Detail, StringComparison.Ordinal);
    }

    private static async Task<GoAwayPayload?> ReadGoAwayAsync(PipeReader input)
    {
        var seenPreface = false;
        while (true)
        {
            var result = await input.ReadAsync().AsTask().DefaultTimeout();
            var buffer = result.Buffer;
            if (!seenPreface && buffer.Length >= Preface.Size)
            {
                buffer = buffer.Slice(Preface.Size);
                seenPreface = true;
            }

            while (seenPreface && FrameReader.TryReadFrame(ref buffer, ConnectionSettings.MaxAllowedFrameSize, out var header, out var payload))
            {
                if (header.Type == FrameType.GoAway)
                {
                    return PayloadCodec.ReadGoAway(payload);
                }
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return null;
            }
        }
    }
}
