using System.CommandLine;
using System.Diagnostics;
using Grpc.Core;
using Spectre.Console;

namespace Rpc.Cli.Commands;

/// <summary>
/// <c>rpc bench ADDRESS METHOD JSON [-c callers] [-n calls | -z duration]</c>: one unary request
/// sent over and over by concurrent callers on one channel; live progress, then calls/s, latency
/// percentiles and a histogram, all on stderr.
/// </summary>
internal static class BenchCommand
{
    // Latencies are kept (one long each) to sort for percentiles; this bounds that memory.
    private const int MaxCalls = 10_000_000;

    public static Command Create(ToolIO io)
    {
        var connection = new Connection();
        var schema = new SchemaOptions();
        var methodName = new Argument<string>("method") { Description = "package.Service/Method (unary)." };
        var json = new Argument<string?>("json") { Description = "The request as JSON.", Arity = ArgumentArity.ZeroOrOne };
        var callers = new Option<int>("--callers", "-c") { Description = "Concurrent callers (default 10).", DefaultValueFactory = _ => 10 };
        var calls = new Option<int?>("--calls", "-n") { Description = "Total calls (default 1000 unless -z)." };
        var duration = new Option<string?>("--duration", "-z") { Description = "Run for this long instead: 10s, 1m." };
        var command = new Command("bench", "Call a unary method repeatedly and report calls/s and latency.");
        connection.AddTo(command);
        schema.AddTo(command);
        command.Arguments.Add(methodName);
        command.Arguments.Add(json);
        command.Options.Add(callers);
        command.Options.Add(calls);
        command.Options.Add(duration);
        command.SetAction((result, cancellationToken) => Tool.RunAsync(io, async () =>
        {
            var callerCount = result.GetValue(callers);
            var total = result.GetValue(calls) ?? (result.GetValue(duration) is null ? 1000 : MaxCalls);
            var runFor = result.GetValue(duration) is { } z ? Connection.ParseDeadline(z) : (TimeSpan?)null;
            if (callerCount < 1 || total < 1 || total > MaxCalls)
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"-c must be at least 1 and -n between 1 and {MaxCalls}.");
            }

            await using var channel = connection.OpenChannel(result, out var settings);
            var method = await CallCommand.ResolveMethodAsync(schema.Open(result, channel.CreateCallInvoker(), settings), result.GetValue(methodName)!, cancellationToken).ConfigureAwait(false);
            if (method.IsClientStreaming || method.IsServerStreaming)
            {
                throw new ToolException(ExitCodes.InvalidArgument, $"{method.Name} is not unary; bench calls unary methods.");
            }

            var request = CallCommand.EncodeAll(method, RequestReader.Split(result.GetValue(json) ?? "{}"))[0];
            var run = new BenchRun(channel.CreateCallInvoker(), method, request, settings.Headers, total, runFor ?? TimeSpan.MaxValue);
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(io.Error) });
            var stopwatch = Stopwatch.StartNew();
            await console.Progress().StartAsync(async progress =>
            {
                var task = progress.AddTask($"{method.Name} x{callerCount}", maxValue: runFor is null ? total : runFor.Value.TotalSeconds);
                var work = run.RunAsync(callerCount, cancellationToken);
                while (!work.IsCompleted)
                {
                    await Task.WhenAny(work, Task.Delay(100, cancellationToken)).ConfigureAwait(false);
                    task.Value = runFor is null ? run.Completed : Math.Min(stopwatch.Elapsed.TotalSeconds, runFor.Value.TotalSeconds);
                }

                await work.ConfigureAwait(false);
                task.Value = task.MaxValue;
            }).ConfigureAwait(false);
            BenchReport.Write(console, run, stopwatch.Elapsed);
            return run.Failed == 0 ? ExitCodes.Ok : (int)run.FirstFailure;
        }, connection, result, schema));
        return command;
    }
}
