using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using System.Net.Sockets;
using HdrHistogram;

namespace Rpc.Benchmarks;

/// <summary>
/// The floor under every transport: a 64-byte ping-pong between two processes with no framework at
/// all, over a Unix socket with blocking calls, and over a shared-memory slot with both sides
/// spinning. Every Rpc transport's latency is reported as a multiple of its floor (issue 14), which
/// stays meaningful when machines differ.
/// </summary>
public static class RawFloor
{
    private const int MessageSize = 64;

    // The shared-memory slot: the client writes a message and bumps the request counter at 0; the
    // server echoes it and copies the counter to 64 (a cache line apart, so the sides do not share one).
    private const int RequestCounter = 0;
    private const int ResponseCounter = 64;
    private const int PayloadOffset = 128;
    private const int SlotSize = 4096;

    /// <summary>The child process: echoes until the parent goes away. <c>raw-serve unix|shm PATH</c>.</summary>
    public static void Serve(string kind, string path)
    {
        if (kind == "unix")
        {
            ServeSocket(path);
        }
        else
        {
            ServeSharedMemory(path);
        }
    }

    /// <summary>Starts the echo process for <paramref name="kind"/>, measures round trips for <paramref name="duration"/>.</summary>
    public static async Task<Measurement> MeasureAsync(string kind, TimeSpan warmup, TimeSpan duration)
    {
        var path = kind == "unix"
            ? Path.Combine(Path.GetTempPath(), $"loadtest-floor-{Environment.ProcessId}.sock")
            : $"/dev/shm/loadtest-floor-{Environment.ProcessId}";
        File.Delete(path);
        if (kind == "shm")
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite);
            file.SetLength(SlotSize);
        }

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(RawFloor).Assembly.Location);
        info.ArgumentList.Add("raw-serve");
        info.ArgumentList.Add(kind);
        info.ArgumentList.Add(path);
        using var server = Process.Start(info)!;
        try
        {
            if (await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) != "READY")
            {
                throw new InvalidOperationException($"The {kind} floor server did not start.");
            }

            var histogram = await Task.Run(() => kind == "unix" ? PingSocket(path, warmup, duration) : PingSharedMemory(path, warmup, duration));
            double Micros(double percentile) => histogram.GetValueAtPercentile(percentile) * 1e6 / Stopwatch.Frequency;
            return new Measurement("unary 64 B sequential latency (p50)", $"floor-{kind}", Micros(50), "µs", false, new Dictionary<string, double>
            {
                ["p90 µs"] = Micros(90),
                ["p99 µs"] = Micros(99),
                ["p99.9 µs"] = Micros(99.9),
            });
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill();
            }

            await server.WaitForExitAsync();
            File.Delete(path);
        }
    }

    private static void ServeSocket(string path)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        Console.WriteLine("READY");
        using var connection = listener.Accept();
        var buffer = new byte[MessageSize];
        while (ReadExactly(connection, buffer))
        {
            connection.Send(buffer);
        }
    }

    private static LongHistogram PingSocket(string path, TimeSpan warmup, TimeSpan duration)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        var buffer = new byte[MessageSize];
        return Measure(warmup, duration, () =>
        {
            socket.Send(buffer);
            if (!ReadExactly(socket, buffer))
            {
                throw new IOException("The floor server went away.");
            }
        });
    }

    private static unsafe void ServeSharedMemory(string path)
    {
        using var mapping = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, SlotSize, MemoryMappedFileAccess.ReadWrite);
        using var view = mapping.CreateViewAccessor(0, SlotSize);
        byte* slot = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref slot);
        try
        {
            Console.WriteLine("READY");
            var parent = Process.GetProcessById(Environment.ProcessId).Parent();
            long served = 0;
            var idleSpins = 0;
            while (true)
            {
                var requested = Volatile.Read(ref *(long*)(slot + RequestCounter));
                if (requested == served)
                {
                    // Spin, as the floor's definition says; check now and then that the parent lives.
                    if (++idleSpins % (1 << 24) == 0 && parent is { HasExited: true })
                    {
                        return;
                    }

                    Thread.SpinWait(1);
                    continue;
                }

                idleSpins = 0;
                // The echo: the payload is already in place; one read of it keeps the comparison honest.
                _ = Volatile.Read(ref *(slot + PayloadOffset + MessageSize - 1));
                served = requested;
                Volatile.Write(ref *(long*)(slot + ResponseCounter), served);
            }
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    private static unsafe LongHistogram PingSharedMemory(string path, TimeSpan warmup, TimeSpan duration)
    {
        using var mapping = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, SlotSize, MemoryMappedFileAccess.ReadWrite);
        using var view = mapping.CreateViewAccessor(0, SlotSize);
        byte* slot = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref slot);
        try
        {
            var payload = new byte[MessageSize];
            long sent = 0;
            return Measure(warmup, duration, () =>
            {
                payload.AsSpan().CopyTo(new Span<byte>(slot + PayloadOffset, MessageSize));
                sent++;
                Volatile.Write(ref *(long*)(slot + RequestCounter), sent);
                var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
                while (Volatile.Read(ref *(long*)(slot + ResponseCounter)) != sent)
                {
                    if (Stopwatch.GetTimestamp() > deadline)
                    {
                        throw new TimeoutException("The shared-memory floor server stopped answering.");
                    }

                    Thread.SpinWait(1);
                }

                new Span<byte>(slot + PayloadOffset, MessageSize).CopyTo(payload);
            });
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    private static LongHistogram Measure(TimeSpan warmup, TimeSpan duration, Action roundTrip)
    {
        var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
        var until = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until)
        {
            roundTrip();
        }

        until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until)
        {
            var start = Stopwatch.GetTimestamp();
            roundTrip();
            histogram.RecordValue(Stopwatch.GetTimestamp() - start);
        }

        return histogram;
    }

    private static bool ReadExactly(Socket socket, byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var received = socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
            if (received == 0)
            {
                return false;
            }

            read += received;
        }

        return true;
    }

    private static Process? Parent(this Process process)
    {
        // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
        var stat = File.ReadAllText($"/proc/{process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        try
        {
            return Process.GetProcessById(int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
