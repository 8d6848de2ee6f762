namespace Rpc.Cli;

/// <summary>
/// The tool's three streams. Passed in rather than taken from <see cref="Console"/> so the tests run
/// many invocations at once in one process without sharing the console.
/// </summary>
/// <param name="Out">Responses, lists and descriptions: what a script pipes on.</param>
/// <param name="Error">Status, trailers, errors and progress.</param>
/// <param name="In">Request JSON when none is given on the command line; null when stdin is a terminal.</param>
internal sealed record ToolIO(TextWriter Out, TextWriter Error, Func<TextReader?> In)
{
    /// <summary>The process's own console; stdin counts only when redirected (a terminal would wait for typing).</summary>
    public static ToolIO FromConsole() => new(Console.Out, Console.Error, () => Console.IsInputRedirected ? Console.In : null);
}
