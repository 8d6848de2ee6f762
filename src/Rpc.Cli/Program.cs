using Rpc.Cli;

return await RpcTool.RunAsync(args, ToolIO.FromConsole()).ConfigureAwait(false);
