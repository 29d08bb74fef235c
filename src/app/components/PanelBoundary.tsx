import { Component, type ErrorInfo, type ReactNode } from 'react';

/** One panel that fails to draw shows a message; the rest of the page goes on. */
export class PanelBoundary extends Component<{ name: string; children: ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`TIS Lab: the ${this.props.name} panel failed:`, error, info.componentStack);
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <section
        aria-label={this.props.name}
        className="rounded-lg border border-red-300 bg-red-50 p-4 text-sm text-red-900"
      >
        <h2 className="font-semibold">{this.props.name}</h2>
        <p className="mt-1">
          This panel could not be drawn: {this.state.error.message}. The simulation goes on.
        </p>
      </section>
    );
  }
}
