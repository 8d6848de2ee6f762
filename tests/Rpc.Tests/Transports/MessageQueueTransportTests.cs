using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Rpc.Client;
using Rpc.Server;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Rpc.Transports;
using Rpc.Transports.MessageQueues;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// The message-queue transport beyond the conformance suite: frames cut into many small queue
/// messages, a full queue, the kernel's limits, and queues that never outlive the handshake.
/// </summary>
public sealed class MessageQueueTransportTests
{
    // Queues far smaller than any frame, so every frame is cut and every queue fills.
    private const int SmallMessage = 256;
    private const int SmallDepth = 2;

    // Only a bound that proves "does not hang".
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Send_BytesSpanningThousandsOfQueueMessages_ArriveWholeAndInOrder()
    {
        await using var pair = await Pair.ConnectAsync();
        var sent = new byte[1024 * 1024 + 77];
        new Random(13).NextBytes(sent);

        var writing = Task.Run(async () =>
        {
            for (var offset = 0; offset < sent.Length; offset += 60_000)
            {
                await pair.Client.Transport.Output.WriteAsync(sent.AsMemory(offset, Math.Min(60_000, sent.Length - offset)));
            }
        });
        var received = new MemoryStream();
        while (received.Length < sent.Length)
        {
            var result = await pair.Server.Transport.Input.ReadAsync().AsTask().WaitAsync(Prompt);
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            pair.Server.Transport.Input.AdvanceTo(result.Buffer.End);
        }

        await writing.WaitAsync(Prompt);
        Assert.Equal(sent, received.ToArray());
    }

    [Fact]
    public async Task Dispose_PeerNeverReadsAndQueueFull_FinishesPromptly()
    {
        await using var pair = await Pair.ConnectAsync();
        // Far more than the queue and the server's input pipe hold; the server reads none of it.
        var chunk = new byte[64 * 1024];
        for (var i = 0; i < 48; i++)
        {
            await pair.Client.Transport.Output.WriteAsync(chunk).AsTask().WaitAsync(Prompt);
        }

        var stopwatch = Stopwatch.StartNew();
        await pair.Client.DisposeAsync().AsTask().WaitAsync(Prompt);
        Assert.True(stopwatch.Elapsed < Prompt, $"Dispose took {stopwatch.Elapsed}.");
    }

    [Fact]
    public async Task Connect_BothSidesHoldTheQueues_NoQueueNameRemains()
    {
        await using var pair = await Pair.ConnectAsync();
        await pair.Client.Transport.Output.WriteAsync(new byte[] { 1, 2, 3 }).AsTask().WaitAsync(Prompt);
        var result = await pair.Server.Transport.Input.ReadAtLeastAsync(3).AsTask().WaitAsync(Prompt);
        Assert.Equal(new byte[] { 1, 2, 3 }, System.Buffers.BuffersExtensions.ToArray(result.Buffer));
        pair.Server.Transport.Input.AdvanceTo(result.Buffer.End);

        // Unlinked in the handshake: a crash of either side from here on leaves nothing.
        Assert.Empty(MessageQueueEntries.Of(pair.Name));
    }

    [Fact]
    public async Task Calls_OverQueuesOfTinyMessages_CompleteWithTheirPayloads()
    {
        var name = $"rpct-{Guid.NewGuid():N}";
        var registry = SmallQueues();
        await using var server = new RpcServer(new RpcServerOptions { Transports = registry });
        server.AddService(new ConformanceService()).Listen("mq://" + name);
        await server.StartAsync().DefaultTimeout();
        await using var channel = RpcChannel.ForAddress("mq://" + name, new RpcChannelOptions { Transports = registry });
        var client = new TestService.TestServiceClient(channel);

        var unary = await client.UnaryCallAsync(new SimpleRequest { ResponseSize = 1_000_003, Payload = new Payload { Body = ByteString.CopyFrom(new byte[777_777]) } }).ResponseAsync.DefaultTimeout();
        Assert.Equal(1_000_003, unary.Payload.Body.Length);

        var request = new StreamingOutputCallRequest();
        for (var i = 0; i < 50; i++)
        {
            request.ResponseParameters.Add(new ResponseParameters { Size = 10_000 + i });
        }

        using var stream = client.StreamingOutputCall(request);
        var sizes = new List<int>();
        while (await stream.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout())
        {
            sizes.Add(stream.ResponseStream.Current.Payload.Body.Length);
        }

        Assert.Equal(Enumerable.Range(0, 50).Select(i => 10_000 + i), sizes);
        Assert.Equal(StatusCode.OK, stream.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Connect_ServerOverItsQueueByteLimit_UnavailableNamingTheLimit()
    {
        var address = $"mq://rpct-{Guid.NewGuid():N}";
        await using var server = await ServerProcess.StartAsync(address);
        // Less than two one-message queues cost: no connection can fit.
        await RunAsync("prlimit", $"--pid={server.Process.Id}", "--msgqueue=1000");
        await using var channel = RpcChannel.ForAddress(address);

        var ex = await Assert.ThrowsAsync<RpcException>(() => new TestService.TestServiceClient(channel).EmptyCallAsync(new Empty()).ResponseAsync.DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("RLIMIT_MSGQUEUE", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("ulimit -q", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(MessageQueueEntries.Of(address["mq://".Length..]));
    }

    [Fact]
    public void Fit_AskedBeyondTheSysctls_CappedToThem()
    {
        var limits = new MqLimits(MaxMessages: 10, MaxMessageSize: 8192, MaxQueues: 256, UserBytes: 819_200);
        Assert.Equal((10L, 8192L), limits.Fit(1000, 1024 * 1024));
    }

    [Fact]
    public void Fit_UserBudgetSmall_FewerMessagesSoBothQueuesFit()
    {
        var limits = new MqLimits(MaxMessages: 10, MaxMessageSize: 8192, MaxQueues: 256, UserBytes: 100_000);
        var (messages, size) = limits.Fit(10, 8192);
        Assert.Equal(8192, size);
        Assert.InRange(messages, 1, 10);
        Assert.True(2 * MqLimits.Cost(messages, size) <= 100_000);
        Assert.True(2 * MqLimits.Cost(messages + 1, size) > 100_000);
    }

    [Fact]
    public void Fit_BudgetBelowOneMessage_ErrorNamesRlimitAndHowToRaiseIt()
    {
        var limits = new MqLimits(MaxMessages: 10, MaxMessageSize: 8192, MaxQueues: 256, UserBytes: 1000);
        var ex = Assert.Throws<IOException>(() => limits.Fit(4, 8192));
        Assert.Contains("RLIMIT_MSGQUEUE", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ulimit -q", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MqNative.EMFile, "RLIMIT_MSGQUEUE")]
    [InlineData(MqNative.ENoSpc, "fs.mqueue.queues_max")]
    [InlineData(MqNative.EInval, "fs.mqueue.msgsize_max")]
    [InlineData(MqNative.ENoSys, "CONFIG_POSIX_MQUEUE")]
    public void Explain_OpenFailed_NamesTheLimit(int error, string named)
    {
        var limits = new MqLimits(MaxMessages: 10, MaxMessageSize: 8192, MaxQueues: 256, UserBytes: 819_200);
        Assert.Contains(named, limits.Explain(error, 10, 8192), StringComparison.Ordinal);
    }

    [Fact]
    public void Open_QueueOthersCanRead_Refused()
    {
        var name = NewQueuePair(out var created);
        try
        {
            File.SetUnixFileMode(MessageQueueEntries.PathOf(name + ".s"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var ex = Assert.Throws<IOException>(() => MqQueuePair.Open(name, OwnUserId()));
            Assert.Contains("mode 644", ex.Message, StringComparison.Ordinal);
            // Refused or not, the client removed the names.
            Assert.DoesNotContain(MessageQueueEntries.All(), e => e.StartsWith(name[1..], StringComparison.Ordinal));
        }
        finally
        {
            Close(name, created);
        }
    }

    [Fact]
    public void Open_QueueOfAnotherUser_Refused()
    {
        var name = NewQueuePair(out var created);
        try
        {
            var ex = Assert.Throws<IOException>(() => MqQueuePair.Open(name, OwnUserId() + 1));
            Assert.Contains($"expected uid {OwnUserId() + 1}", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Close(name, created);
        }
    }

    /// <summary>Two private queues named as a server would name them, as a peer playing the server.</summary>
    private static string NewQueuePair(out int[] created)
    {
        var name = $"/rpc-mq-rpct-{Guid.NewGuid():N}";
        created = [.. new[] { ".c", ".s" }.Select(suffix =>
        {
            var descriptor = MqNative.Open(name + suffix, MqNative.OpenReadWrite | MqNative.OpenCreate | MqNative.OpenExclusive, 0x180, 2, 128, out var error);
            Assert.True(descriptor >= 0, $"mq_open failed: errno {error}");
            return descriptor;
        })];
        return name;
    }

    private static void Close(string name, int[] created)
    {
        foreach (var descriptor in created)
        {
            MqNative.Close(descriptor);
        }

        MqQueuePair.Unlink(name);
    }

    [Theory]
    [InlineData("/etc-queue")]
    [InlineData("/rpc-mq-../x")]
    [InlineData("rpc-mq-x")]
    public void Open_NameOutsideTheTransportsOwn_Refused(string name)
    {
        var ex = Assert.Throws<IOException>(() => MqQueuePair.Open(name, OwnUserId()));
        Assert.Contains("invalid queue", ex.Message, StringComparison.Ordinal);
    }

    private static uint OwnUserId() => Rpc.Transports.Internal.LocalPeerPolicy.ServerUserId!.Value;

    private static TransportRegistry SmallQueues()
    {
        var registry = TransportRegistry.CreateDefault();
        registry.Register(new MessageQueueTransport(new MessageQueueTransportOptions { MessageSize = SmallMessage, MaxMessages = SmallDepth }));
        return registry;
    }

    private static async Task RunAsync(string command, params string[] args)
    {
        var info = new ProcessStartInfo(command) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        await process.WaitForExitAsync().DefaultTimeout();
        Assert.True(process.ExitCode == 0, $"{command} failed: {await process.StandardError.ReadToEndAsync()}");
    }

    /// <summary>A connected client and server over tiny queues; the server reads nothing unless told.</summary>
    private sealed class Pair : IAsyncDisposable
    {
        private readonly ITransportListener _listener;

        private Pair(string name, ITransportListener listener, ITransportConnection client, ITransportConnection server)
        {
            Name = name;
            _listener = listener;
            Client = client;
            Server = server;
        }

        public string Name { get; }

        public ITransportConnection Client { get; }

        public ITransportConnection Server { get; }

        public static async Task<Pair> ConnectAsync()
        {
            var transport = new MessageQueueTransport(new MessageQueueTransportOptions { MessageSize = SmallMessage, MaxMessages = SmallDepth });
            var name = $"rpct-{Guid.NewGuid():N}";
            var address = TransportAddress.Parse("mq://" + name);
            var listener = await transport.BindAsync(address, new ListenOptions(), CancellationToken.None).DefaultTimeout();
            var accepting = listener.AcceptAsync().AsTask();
            var client = await transport.ConnectAsync(address, CancellationToken.None).DefaultTimeout();
            var server = (await accepting.DefaultTimeout())!;
            return new Pair(name, listener, client, server);
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync().AsTask().WaitAsync(Prompt);
            await Client.DisposeAsync().AsTask().WaitAsync(Prompt);
            await _listener.DisposeAsync().AsTask().WaitAsync(Prompt);
            Assert.Empty(MessageQueueEntries.Of(Name));
        }
    }
}
